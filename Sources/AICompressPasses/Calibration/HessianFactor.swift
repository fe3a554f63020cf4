/// The factor GPTQ and SparseGPT sweep with: the upper Cholesky factor U of H⁻¹, where
/// H = XᵀX + λ·I is the layer's (damped) Hessian of the squared output error. Row i of U,
/// divided by U[i][i], is the update that the optimal-brain-surgeon step spreads over the
/// columns after i when column i is fixed (Frantar et al., GPTQ, §3).
public struct HessianFactor: Sendable {
    /// Columns of the layer.
    public let columns: Int
    /// U (upper triangular, row-major `columns × columns`), with UᵀU = H⁻¹.
    public let upper: [Double]
    /// Columns whose Hessian diagonal was zero (inputs that are always 0): their weights do
    /// not matter to the output and are set to 0 by the sweep.
    public let deadColumns: [Int]
    /// λ added to the diagonal.
    public let damping: Double

    /// Factors `gram` (XᵀX, symmetric, `columns²`) with damping `dampFraction` of the mean
    /// diagonal, as GPTQ's reference does (`percdamp`, 0.01 by default).
    /// - Throws: `PassError.unsupported` when H is not positive definite even after damping
    ///   (NaN in the statistics).
    public init(gram: [Double], columns n: Int, dampFraction: Double, layer: String) throws {
        // Each step holds its input and its output only (n² Doubles each: 254 MB for a 5,632-wide
        // ffn_down), the input dropped before the next step makes its own.
        var (h, dead, lambda) = Self.damped(gram: gram, columns: n, dampFraction: dampFraction)
        // The fast kernels give `Cholesky`'s bits (the plain twin, kept for the tests).
        guard var l = CholeskyKernels.lower(h, n) else {
            throw PassError.unsupported(tensor: layer, reason: "the calibration Hessian is not positive definite (NaN or infinite activations?)")
        }
        h = []
        CholeskyKernels.invertLowerInPlace(&l, n)
        // H⁻¹ = L⁻ᵀ L⁻¹; its Cholesky factor, transposed, is the upper factor.
        var inverse = CholeskyKernels.lowerTransposeTimesLower(l, n)
        l = []
        guard var u = CholeskyKernels.lower(inverse, n) else {
            throw PassError.unsupported(tensor: layer, reason: "the inverse calibration Hessian is not positive definite")
        }
        inverse = []
        // Transposed in place (the upper factor is the lower one's transpose, 0 below the diagonal).
        for i in 0..<n {
            for j in 0..<i {
                u[j * n + i] = u[i * n + j]
                u[i * n + j] = 0
            }
        }
        columns = n
        upper = u
        deadColumns = dead
        damping = lambda
    }

    /// H = XᵀX with each zero diagonal entry set to 1 (its column is dead), plus λ = `dampFraction`
    /// × the mean diagonal on the diagonal: the matrix both the sweep and its reference invert.
    public static func damped(gram: [Double], columns n: Int, dampFraction: Double) -> (hessian: [Double], dead: [Int], lambda: Double) {
        precondition(gram.count == n * n, "HessianFactor: gram is not columns × columns")
        var h = gram
        var dead: [Int] = []
        for i in 0..<n where h[i * n + i] == 0 {
            dead.append(i)
            h[i * n + i] = 1
        }
        var mean = 0.0
        for i in 0..<n { mean += h[i * n + i] }
        mean /= Double(max(n, 1))
        let lambda = dampFraction * mean
        for i in 0..<n { h[i * n + i] += lambda }
        return (h, dead, lambda)
    }
}

/// The factor of one input shared by the projections that read it (a LLaMA block's attn_q,
/// attn_k and attn_v read the attention norm's output, ffn_gate and ffn_up the FFN norm's):
/// their XᵀX is the same matrix, so is its dampening (a fraction of its mean diagonal) and its
/// act-order, hence its factor. Asked for the factor of `key`, the cache hands back the one it
/// holds when the key is the same, and otherwise frees it before making the new one: callers
/// that take a block's projections group by group make each group's factor once, and at most one
/// factor is alive at a time (the group being processed), as when each projection made its own.
/// `Value` is what the caller keeps per factor (`HessianFactor`, or `GGMLGPTQ.Factored` with its
/// column order).
public struct SharedFactor<Key: Hashable, Value> {
    /// Factors made so far (tests check one per input group and block).
    public private(set) var factorizations = 0
    private var held: (key: Key, value: Value)?

    /// An empty cache.
    public init() {}

    /// The factor of `key`: the one held when its key is `key`, else `make()`'s (the held one
    /// is freed first; a `make` that throws leaves the cache empty).
    public mutating func factor(for key: Key, make: () throws -> Value) rethrows -> Value {
        if let held, held.key == key { return held.value }
        held = nil
        let value = try make()
        factorizations += 1
        held = (key, value)
        return value
    }
}

/// Dense Cholesky arithmetic in Double on row-major square matrices: small enough to be
/// obviously right; the plain twin of `CholeskyKernels`, which `HessianFactor` runs.
enum Cholesky {
    /// L with L·Lᵀ = a (lower triangular), or nil when a pivot is not positive.
    static func lower(_ a: [Double], _ n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            var d = a[j * n + j]
            for k in 0..<j { d -= l[j * n + k] * l[j * n + k] }
            guard d > 0, d.isFinite else { return nil }
            let ljj = d.squareRoot()
            l[j * n + j] = ljj
            for i in (j + 1)..<max(n, j + 1) {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = s / ljj
            }
        }
        return l
    }

    /// Replaces lower-triangular `l` by its inverse (also lower triangular).
    static func invertLowerInPlace(_ l: inout [Double], _ n: Int) {
        var inv = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            inv[j * n + j] = 1 / l[j * n + j]
            for i in (j + 1)..<max(n, j + 1) {
                var s = 0.0
                for k in j..<i { s -= l[i * n + k] * inv[k * n + j] }
                inv[i * n + j] = s / l[i * n + i]
            }
        }
        l = inv
    }

    /// Mᵀ·M for lower-triangular M.
    static func lowerTransposeTimesLower(_ m: [Double], _ n: Int) -> [Double] {
        var r = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                var s = 0.0
                for k in j..<n { s += m[k * n + i] * m[k * n + j] }
                r[i * n + j] = s
                r[j * n + i] = s
            }
        }
        return r
    }
}
