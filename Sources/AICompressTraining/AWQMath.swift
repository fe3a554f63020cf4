import Foundation

/// The arithmetic AWQ's scale searches share (the LLM's `AWQScaleSearch` and the graph models'
/// `GraphAWQQuantize`): llm-awq's scales for a grid point, and the calibrated output error of a
/// changed weight computed from the Gram matrix of its inputs.
public enum AWQMath {
    /// llm-awq's scales for activation magnitudes `m` (mean |x| per input column) at `alpha`:
    /// m^α clamped at 1e-4, divided by sqrt(max · min); exactly 1 everywhere at α = 0.
    public static func scales(meanAbsolute m: [Double], alpha: Double) -> [Float] {
        let raw = m.map { max(pow(max($0, 0), alpha), 1e-4) }
        guard alpha != 0, let high = raw.max(), let low = raw.min() else { return [Float](repeating: 1, count: m.count) }
        let norm = (high * low).squareRoot()
        return raw.map { Float($0 / norm) }
    }

    /// `m` with each block of `block` consecutive entries replaced by the block's mean: the
    /// statistics of columns that share one scale (a convolution channel flattened into `block`
    /// columns), so `scales` gives them one scale. `m` itself when `block` is 1.
    public static func tied(_ m: [Double], block: Int) -> [Double] {
        guard block > 1 else { return m }
        return m.indices.map { j in
            let start = j / block * block
            return m[start..<min(start + block, m.count)].reduce(0, +) / Double(block)
        }
    }

    /// Σ_rows Δ G Δᵀ with Δ = w − e (`rows × n`), G = XᵀX `n × n`: ‖(w − e)Xᵀ‖², the squared
    /// output error over the calibration rows X (float products by BLAS, summed in Double).
    public static func gramLoss(_ w: [Float], _ e: [Float], rows: Int, columns n: Int, gram g: [Float]) -> Double {
        let delta = zip(w, e).map { $0 - $1 }
        var p = [Float](repeating: 0, count: rows * n)
        BLAS.gemm(transA: false, transB: false, m: rows, n: n, k: n, delta, g, into: &p)
        var total = 0.0
        for i in 0..<(rows * n) { total += Double(delta[i]) * Double(p[i]) }
        return total
    }
}
