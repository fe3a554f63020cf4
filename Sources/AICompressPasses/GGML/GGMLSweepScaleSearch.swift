import AICompressCore

/// GPTQ's choice of a symmetric block's scale by the sweep's own loss (`GGMLGPTQ.ScaleSearch.sweepLoss`).
///
/// When the sweep enters a block, the type's scale search (llama.cpp's `max / −8` family,
/// importance-weighted) fits the scale to the block's current values as if they were rounded
/// independently. But inside the block each rounding error moves the values not yet rounded,
/// so the grid that is best for the values as they stand is not the one that gives the smallest
/// error once the sweep has gone through the block. This tries every candidate scale of the
/// `max / −(nmax + 0.1·i)` family (i in −`steps`…`steps`, as ggml's `make_qx_quants` tries
/// with i in −9…9) plus the type's own one, runs the block's part of the sweep for each — round,
/// error e = (w − q)/U[c][c], move the block's later columns by −e·U[c][j] — and keeps the scale
/// of least Σ e², which is the increase of the layer's squared output error after the best
/// update of *all* columns not yet fixed (so the part of the error pushed beyond the block
/// is counted too). Ties keep the earlier candidate, the type's own scale first.
///
/// Only Q4_0 and Q5_0 (one f16 scale, levels −nmax…nmax−1): the other types' headers hold
/// mins or sub-block scales that this one-dimensional search does not cover.
struct GGMLSweepScaleSearch {
    /// Candidates on each side of `nmax` (21 scales, with the type's own, for 10).
    static let steps = 10

    /// Whether `type`'s header is one scale at bytes 0–1.
    static func supports(_ type: GGMLType) -> Bool { type == .q4_0 || type == .q5_0 }

    let grid: GGMLBlockGrid
    /// The Cholesky factor U of the sweep's inverse Hessian (`n × n`, sweep order).
    let upper: [Double]
    let n: Int

    /// The scale of the block whose values (sweep order, `b` of them) start at `x`, the block
    /// occupying sweep columns `start..<start + b`; `own` is the type's own scale (already
    /// rounded to f16). Returns a scale exactly representable in f16.
    func scale(_ x: UnsafePointer<Float>, count b: Int, start: Int, own: Float) -> Float {
        var peak: Float = 0
        for k in 0..<b where abs(x[k]) > abs(peak) { peak = x[k] }
        guard peak != 0, peak.isFinite else { return own }
        let nmax = Float(grid.bias)
        var best = own, bestLoss = loss(x, b, start, own)
        for i in -Self.steps...Self.steps {
            let d = Float(Float16(-peak / (nmax + 0.1 * Float(i))))
            guard d != 0, d.isFinite, d != own else { continue }
            let l = loss(x, b, start, d)
            if l < bestLoss { (best, bestLoss) = (d, l) }
        }
        return best
    }

    /// Σ e² of the sweep through one block with scale `d`.
    func loss(_ x: UnsafePointer<Float>, _ b: Int, _ start: Int, _ d: Float) -> Double {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: b) { w in
            for k in 0..<b { w[k] = x[k] }
            var total = 0.0
            upper.withUnsafeBufferPointer { u in
                for i in 0..<b {
                    let c = start + i
                    let q = grid.value(grid.level(w[i], multiplier: d, offset: 0), multiplier: d, offset: 0)
                    let e = Float((Double(w[i]) - Double(q)) / u[c * n + c])
                    total += Double(e) * Double(e)
                    if e != 0 { for j in (i + 1)..<b { w[j] -= e * Float(u[c * n + start + j]) } }
                }
            }
            return total
        }
    }
}
