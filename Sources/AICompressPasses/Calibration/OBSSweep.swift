import AICompressCore
import AICompressTraining
import CKernels

/// Decides the value each weight is fixed to as the optimal-brain-surgeon sweep reaches its
/// column: a quantizer's grid point (GPTQ), zero or the weight itself (SparseGPT's mask), or
/// both. The sweep then spreads the error over the columns not yet fixed.
public protocol OBSColumnRule {
    /// Called before column `column`'s rows are fixed. `weights` is the whole matrix
    /// (`rows × columns`, row-major) with every column from `column` to `blockEnd` up to date
    /// (columns after `blockEnd` still lack this block's updates); `diagonal[j]` is the factor's
    /// U[j][j], whose square is the inverse Hessian's diagonal among the unfixed columns.
    mutating func begin(column: Int, blockStart: Int, blockEnd: Int, weights: UnsafeBufferPointer<Float>,
                        rows: Int, columns: Int, diagonal: [Double])
    /// The value weight (`row`, `column`) is fixed to, given its current value.
    func fix(row: Int, column: Int, value: Float) -> Float
}

/// The column sweep shared by GPTQ and SparseGPT (Frantar & Alistarh): columns are fixed left
/// to right; fixing column c with error e = (w − q)/U[c][c] moves every later column j by
/// −e·U[c][j], which is the optimal update of the unfixed weights for the layer's squared output
/// error. Within a block of columns the update is applied at once; to the columns after the
/// block it is applied lazily as one matrix product (`lazyUpdate`), which is where the time goes.
/// `OBSReference` computes the same thing the textbook way, to test this against.
public struct OBSSweep: Sendable {
    /// Columns per lazily-updated block (GPTQ's 128); at least the rule's group size.
    public var blockSize: Int

    /// A sweep with blocks of `blockSize` columns.
    public init(blockSize: Int = 128) { self.blockSize = max(1, blockSize) }

    /// Fixes every weight of `weights` (`rows × factor.columns`, row-major) in place and
    /// returns the sum over weights of e² / 2 (GPTQ's loss, in units of the output error).
    @discardableResult
    public func run<R: OBSColumnRule>(_ weights: inout [Float], rows: Int, factor: HessianFactor, rule: inout R) -> Double {
        let n = factor.columns
        precondition(weights.count == rows * n, "OBSSweep: weights are not rows × columns")
        for c in factor.deadColumns { for r in 0..<rows { weights[r * n + c] = 0 } }
        let u = factor.upper
        let diagonal = (0..<n).map { u[$0 * n + $0] }
        var loss = 0.0
        var start = 0
        while start < n {
            let end = min(n, start + blockSize), width = end - start
            var errors = [Float](repeating: 0, count: rows * width)
            for c in start..<end {
                weights.withUnsafeBufferPointer {
                    rule.begin(column: c, blockStart: start, blockEnd: end, weights: $0, rows: rows, columns: n, diagonal: diagonal)
                }
                let d = diagonal[c]
                let ucRow = Array(u[(c * n + c + 1)..<(c * n + end)]).map(Float.init)
                weights.withUnsafeMutableBufferPointer { w in
                    for r in 0..<rows {
                        let row = w.baseAddress! + r * n
                        let value = row[c], q = rule.fix(row: r, column: c, value: value)
                        row[c] = q
                        let e = Float((Double(value) - Double(q)) / d)
                        errors[r * width + (c - start)] = e
                        loss += Double(e) * Double(e) / 2
                        if e != 0 { for (k, ucj) in ucRow.enumerated() { row[c + 1 + k] -= e * ucj } }
                    }
                }
            }
            if end < n { Self.lazyUpdate(&weights, rows: rows, columns: n, start: start, end: end, errors: errors, upper: u) }
            start = end
        }
        return loss
    }
}

extension OBSSweep {
    /// W[:, end...] −= E · U[start..<end, end...] (`E` is `rows × (end − start)`): CKernels'
    /// `aic_obs_lazy_update`, whose every element takes its terms in ascending order as a
    /// separate multiply and subtract, so a row's result depends on that row alone — not on how
    /// many rows the matrix has, the CPU or the thread count (a BLAS sgemm rounds by kernel,
    /// and picks kernels by shape and CPU: OpenBLAS's AVX-512 sgemm gave rows different bits at
    /// different positions of the same product). GPTQ of a matrix in row chunks thus gives the
    /// whole matrix's bytes on every machine. Rows are spread over the cores in groups of 16.
    static func lazyUpdate(_ weights: inout [Float], rows: Int, columns n: Int, start: Int, end: Int, errors: [Float], upper u: [Double]) {
        let width = end - start, rest = n - end
        guard rows > 0, rest > 0, width > 0 else { return }
        var block = [Float](repeating: 0, count: width * rest)
        for i in 0..<width { for j in 0..<rest { block[i * rest + j] = Float(u[(start + i) * n + end + j]) } }
        weights.withUnsafeMutableBufferPointer { w in
            errors.withUnsafeBufferPointer { e in
                block.withUnsafeBufferPointer { b in
                    Self.subtractProduct(w.baseAddress! + end, rows: rows, stride: n, e.baseAddress!, width: width, b.baseAddress!, rest: rest)
                }
            }
        }
    }

    /// w[r·stride + j] −= Σᵢ e[r·width + i]·u[i·rest + j] for r < rows, j < rest, by
    /// `aic_obs_lazy_update` (each element's terms in ascending i: a row's bits are its own),
    /// rows spread over the cores in groups of 16.
    static func subtractProduct(_ w: UnsafeMutablePointer<Float>, rows: Int, stride: Int, _ e: UnsafePointer<Float>, width: Int,
                                _ u: UnsafePointer<Float>, rest: Int) {
        let groups = (rows + 15) / 16, parts = min(groups, Parallel.defaultWorkers * 4)
        nonisolated(unsafe) let (wp, ep, up) = (w, e, u)
        Parallel.forEach(parts) { part in
            let first = groups * part / parts * 16, last = min(rows, groups * (part + 1) / parts * 16)
            guard first < last else { return }
            aic_obs_lazy_update(wp + first * stride, Int64(last - first), Int64(stride), ep + first * width, Int64(width), up, Int64(rest))
        }
    }

    /// The plain twin of `lazyUpdate`: each element, terms in ascending order, one at a time.
    static func lazyUpdateReference(_ weights: inout [Float], rows: Int, columns n: Int, start: Int, end: Int, errors: [Float],
                                    upper u: [Double]) {
        let width = end - start
        for r in 0..<rows {
            for j in end..<n {
                var c = weights[r * n + j]
                for i in 0..<width {
                    let product = errors[r * width + i] * Float(u[(start + i) * n + j])
                    c = c - product
                }
                weights[r * n + j] = c
            }
        }
    }
}

/// The plain twin of `OBSSweep`: the optimal-brain-surgeon step done literally, one column at a
/// time on the explicit inverse Hessian of the unfixed columns (GPTQ paper, eqs. 2–3): fixing
/// column c to q moves the unfixed columns F by −(w_c − q)/[H_F⁻¹]_cc · [H_F⁻¹]_{c,F}, then c
/// leaves F by one Gaussian-elimination step on H_F⁻¹. O(n³) per row set, no blocks, no BLAS.
public enum OBSReference {
    /// Same contract as `OBSSweep.run`, from the damped Hessian `h` (`n × n`, dead columns
    /// already handled as in `HessianFactor`). `blockSize` only tells the rule where the
    /// sweep's blocks begin (SparseGPT chooses its mask per block); the arithmetic has none.
    public static func run<R: OBSColumnRule>(_ weights: inout [Float], rows: Int, hessian h: [Double], columns n: Int,
                                             deadColumns: [Int], blockSize: Int = 128, rule: inout R) -> Double {
        for c in deadColumns { for r in 0..<rows { weights[r * n + c] = 0 } }
        var inv = invert(h, n)
        // What the sweep calls U[j][j]: the root of [H_F⁻¹]_jj when column j is reached, i.e.
        // with F = {j, …, n−1}: the first diagonal entry of the inverse of H's trailing block.
        let diagonal = (0..<n).map { j -> Double in
            let m = n - j
            var block = [Double](repeating: 0, count: m * m)
            for a in 0..<m { for b in 0..<m { block[a * m + b] = h[(j + a) * n + j + b] } }
            return invert(block, m)[0].squareRoot()
        }
        var w = weights.map(Double.init)
        var loss = 0.0
        for c in 0..<n {
            let current = w.map(Float.init)
            current.withUnsafeBufferPointer {
                let blockStart = c - c % max(1, blockSize)
                rule.begin(column: c, blockStart: blockStart, blockEnd: min(n, blockStart + max(1, blockSize)), weights: $0,
                           rows: rows, columns: n, diagonal: diagonal)
            }
            let d = inv[c * n + c]
            for r in 0..<rows {
                let value = Float(w[r * n + c]), q = rule.fix(row: r, column: c, value: value)
                let delta = (Double(value) - Double(q)) / d
                loss += delta * delta * d / 2
                for j in (c + 1)..<max(n, c + 1) { w[r * n + j] -= delta * inv[c * n + j] }
                w[r * n + c] = Double(q)
            }
            // Remove c from the unfixed set.
            let pivotRow = Array(inv[(c * n)..<(c * n + n)])
            for i in (c + 1)..<max(n, c + 1) {
                let f = inv[i * n + c] / d
                for j in (c + 1)..<n { inv[i * n + j] -= f * pivotRow[j] }
            }
        }
        weights = w.map(Float.init)
        return loss
    }

    /// The inverse of a symmetric positive definite matrix by Gauss–Jordan elimination.
    static func invert(_ a: [Double], _ n: Int) -> [Double] {
        var m = a
        var inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        for p in 0..<n {
            let pivot = m[p * n + p]
            for j in 0..<n { m[p * n + j] /= pivot; inv[p * n + j] /= pivot }
            for i in 0..<n where i != p {
                let f = m[i * n + p]
                if f == 0 { continue }
                for j in 0..<n { m[i * n + j] -= f * m[p * n + j]; inv[i * n + j] -= f * inv[p * n + j] }
            }
        }
        return inv
    }
}
