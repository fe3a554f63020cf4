import AICompressCore
import AICompressTraining

/// How the dense (uncompressed) model's input to a layer differs from the input the layer sees
/// after the layers before it were compressed, over the calibration rows: Δ = X_dense − X,
/// gathered as ΔᵀX (`columns × columns`, row-major: entry [i][j] = Σ Δ_i x_j) and ΣΔ per column.
/// ΔᵀX is summed per batch through BLAS in f32 and added in Double; it is exactly 0 where the two
/// inputs agree (the first layer), so a layer that nothing before it changed is fitted as before.
public struct InputShift: Sendable, Equatable {
    /// Input columns.
    public let columns: Int
    /// ΔᵀX, `columns × columns`.
    public private(set) var cross: [Double]
    /// ΣΔ per column.
    public private(set) var sums: [Double]

    /// An empty shift for `columns` inputs.
    public init(columns: Int) {
        self.columns = columns
        cross = [Double](repeating: 0, count: columns * columns)
        sums = [Double](repeating: 0, count: columns)
    }

    /// Adds `rows` rows of the dense model's input `dense` and the compressed model's `compressed`
    /// (both `rows × columns`).
    public mutating func add(dense: [Float], compressed: [Float], rows: Int) {
        let n = columns
        precondition(dense.count >= rows * n && compressed.count >= rows * n, "InputShift.add: buffers smaller than rows × columns")
        var delta = [Float](repeating: 0, count: rows * n)
        var any = false
        for i in 0..<(rows * n) {
            delta[i] = dense[i] - compressed[i]
            if delta[i] != 0 { any = true }
        }
        guard any else { return }
        for r in 0..<rows { for j in 0..<n { sums[j] += Double(delta[r * n + j]) } }
        var product = [Float](repeating: 0, count: n * n)
        BLAS.gemm(transA: true, transB: false, m: n, n: n, k: rows, delta, compressed, into: &product)
        for i in 0..<(n * n) { cross[i] += Double(product[i]) }
    }

    /// The shift of the centred inputs, ΔᵀX − ΣΔ·μᵀ (μ the compressed input's mean per column).
    func centered(on mean: [Double], rows: Int) -> InputShift {
        var c = self
        let n = columns
        for i in 0..<n where sums[i] != 0 { for j in 0..<n { c.cross[i * n + j] -= sums[i] * mean[j] } }
        return c
    }
}

/// SparseGPT's layer-wise problem with the dense model's outputs as the target. The paper fits
/// each layer to its own output on its compressed input, min ‖WX − ŴX‖²; here the target is what
/// the dense model computes, min ‖W X_dense − Ŵ X‖² + λ‖Ŵ − W‖² (the damping λ of the Hessian
/// pulls towards the original weights), whose solution without a mask is
/// W* = W + W·(ΔᵀX)·(XᵀX + λI)⁻¹, and ‖W X_dense − Ŵ X‖² = ‖(W* − Ŵ)X‖² + const, so the sweep
/// prunes W* on the usual Hessian. With a bias that is refitted too the problem is the same on
/// centred inputs (`LayerStatistics.centered`), and the bias then takes the mean error:
/// b̂ = b + W·μ_dense − Ŵ·μ.
enum DenseTargets {
    /// The weights to prune (`rows × statistics.columns`): W* for statistics with a reference
    /// shift that is not 0, else `weights` unchanged.
    /// - Throws: `PassError.unsupported` naming `layer` when the damped Hessian is not positive definite.
    static func target(_ weights: [Float], rows: Int, statistics: LayerStatistics, dampFraction: Double, layer: String) throws -> [Float] {
        let n = statistics.columns
        guard let shift = statistics.reference, shift.cross.contains(where: { $0 != 0 }) else { return weights }
        let h = HessianFactor.damped(gram: statistics.symmetricGram, columns: n, dampFraction: dampFraction).hessian
        guard var l = CholeskyKernels.lower(h, n) else {
            throw PassError.unsupported(tensor: layer, reason: "the calibration Hessian is not positive definite (NaN or infinite activations?)")
        }
        CholeskyKernels.invertLowerInPlace(&l, n)
        let inverse = CholeskyKernels.lowerTransposeTimesLower(l, n).map(Float.init)
        // G = (ΔᵀX)·H⁻¹, then W* = W + W·G.
        var g = [Float](repeating: 0, count: n * n)
        BLAS.gemm(transA: false, transB: false, m: n, n: n, k: n, shift.cross.map(Float.init), inverse, into: &g)
        var fitted = weights
        BLAS.gemm(transA: false, transB: false, m: rows, n: n, k: n, weights, g, beta: 1, into: &fitted)
        guard fitted.allSatisfy(\.isFinite) else {
            throw PassError.unsupported(tensor: layer, reason: "fitting the dense model's outputs gave non-finite weights")
        }
        return fitted
    }

    /// The refitted bias b̂ = b + W·μ_dense − Ŵ·μ = b + W·(ΣΔ/N) + (W − Ŵ)·(Σx/N), from the
    /// layer's original weights `original`, its pruned weights `pruned` (both `rows × columns`)
    /// and the uncentred statistics' sums.
    static func bias(_ bias: [Float], original: [Float], pruned: [Float], statistics: LayerStatistics) -> [Float] {
        let n = statistics.columns, count = Double(max(statistics.rows, 1))
        let mean = statistics.sums.map { $0 / count }
        let shift = statistics.reference?.sums.map { $0 / count } ?? [Double](repeating: 0, count: n)
        return bias.enumerated().map { r, b in
            var v = Double(b)
            for j in 0..<n {
                let w = Double(original[r * n + j])
                v += w * shift[j] + (w - Double(pruned[r * n + j])) * mean[j]
            }
            return Float(v)
        }
    }
}

/// One layer's dense-target problem as the calibrated passes run it: the statistics to sweep
/// with (centred when `bias` is refitted), the weights to sweep (W*), and the refitted bias once
/// the sweep has fixed the weights.
struct DenseTargetLayer {
    /// The bias tensor refitted with the weights, if any.
    let bias: Tensor?
    /// The layer's statistics as gathered (uncentred: their sums give the means).
    let plain: LayerStatistics
    /// What the sweep uses: `plain`, centred when there is a bias.
    let statistics: LayerStatistics
    /// The layer's original weights (`rows × columns`) and the sweep's starting point W*.
    let original: [Float], target: [Float]

    /// The problem of a layer with `weights` (`rows × columns`) and statistics `plain`.
    init(weights: [Float], rows: Int, statistics plain: LayerStatistics, bias: Tensor?, dampFraction: Double, layer: String) throws {
        self.bias = bias
        self.plain = plain
        statistics = bias != nil ? plain.centered : plain
        original = weights
        target = try DenseTargets.target(weights, rows: rows, statistics: statistics, dampFraction: dampFraction, layer: layer)
    }

    /// The refitted bias for the swept weights `compressed`, or nil without a bias.
    func refittedBias(_ compressed: [Float]) throws -> Tensor? {
        guard let b = bias else { return nil }
        return try Tensor(name: b.name, shape: b.shape, floats: DenseTargets.bias(try b.floatValues(), original: original, pruned: compressed, statistics: plain))
    }

    /// The tensors of `results` by name with their reports, the refitted biases included (report
    /// scheme `SCHEME bias refit`, against the model's tensor of that name).
    static func tensors(_ results: [String: LayerwiseCalibration.Compressed], model: [String: Tensor],
                        scheme: String) throws -> [String: (Tensor, TensorReport)] {
        var out = results.mapValues { ($0.tensor, $0.report) }
        for r in results.values {
            guard let b = r.bias, let original = model[b.name] else { continue }
            var figures = ErrorFigures()
            for (x, y) in zip(try original.floatValues(), try b.floatValues()) { figures.add(original: Double(x), changed: Double(y)) }
            out[b.name] = (b, TensorReport(name: b.name, scheme: "\(scheme) bias refit", bytesBefore: b.storedBytes,
                                           bytesAfter: b.storedBytes, figures: figures))
        }
        return out
    }
}

/// The dense-target correction of one input, shared by every projection that reads it (a
/// LLaMA block's q/k/v, gate/up): G = (ΔᵀX)·H⁻¹ (`columns × columns`, f32), H the damped Hessian
/// a `HessianFactor` factors, so that W* = W + W·G is the least-squares fit of the dense model's
/// outputs W·X_dense on the compressed input X (`DenseTargets`). The sweep (GPTQ, SparseGPT)
/// then compresses W* with the same factor.
public struct DenseTargetGain: Sendable {
    /// Input columns.
    public let columns: Int
    let gain: [Float]

    /// G from ΔᵀX (`cross`, row-major [i][j] = Σ Δ_i x_j) and `factor` (H⁻¹ = UᵀU in the
    /// factor's column order: sweep column c is the model's column `order[c]`; nil: the identity).
    public init(cross: [Double], factor: HessianFactor, order: [Int]? = nil) {
        let n = factor.columns
        precondition(cross.count == n * n && (order?.count ?? n) == n, "DenseTargetGain: cross or order is not of the factor's columns")
        // At most three n² f32 arrays live at once (U's f32 copy is gone before ΔᵀX's is made):
        // for a 5632-wide ffn_down that is 381 MB instead of 635 MB.
        func inverseHessian() -> [Float] {
            var permuted = [Float](repeating: 0, count: n * n)
            do {
                let u = factor.upper.map(Float.init)
                BLAS.gemm(transA: true, transB: false, m: n, n: n, k: n, u, u, into: &permuted)
            }
            guard let order else { return permuted }
            var inverse = [Float](repeating: 0, count: n * n)
            for a in 0..<n { for b in 0..<n { inverse[order[a] * n + order[b]] = permuted[a * n + b] } }
            return inverse
        }
        let inverse = inverseHessian()
        var g = [Float](repeating: 0, count: n * n)
        BLAS.gemm(transA: false, transB: false, m: n, n: n, k: n, cross.map(Float.init), inverse, into: &g)
        columns = n
        gain = g
    }

    /// W* = W + W·G for `weights` (`rows × columns`).
    /// - Throws: `PassError.unsupported` naming `layer` when the result is not finite.
    public func target(_ weights: [Float], rows: Int, layer: String) throws -> [Float] {
        precondition(weights.count == rows * columns, "DenseTargetGain.target: weights are not rows × columns")
        var fitted = weights
        BLAS.gemm(transA: false, transB: false, m: rows, n: columns, k: columns, weights, gain, beta: 1, into: &fitted)
        guard fitted.allSatisfy(\.isFinite) else {
            throw PassError.unsupported(tensor: layer, reason: "fitting the dense model's outputs gave non-finite weights")
        }
        return fitted
    }

    /// `target` computed so that each row's result depends on that row alone (CKernels'
    /// `aic_obs_lazy_update` with −G: every element takes its terms in ascending order as a
    /// separate multiply and add), on every CPU and for any number of rows: what a matrix swept
    /// in row chunks needs to give the whole matrix's bytes (`GGMLGPTQ.quantizeInChunks`). Its
    /// bits differ from `target`'s (a BLAS sgemm's), its values agree to rounding.
    /// - Throws: `PassError.unsupported` naming `layer` when the result is not finite.
    public func rowIndependentTarget(_ weights: [Float], rows: Int, layer: String) throws -> [Float] {
        precondition(weights.count == rows * columns, "DenseTargetGain.rowIndependentTarget: weights are not rows × columns")
        var fitted = weights
        let n = columns, negated = gain.map { -$0 }
        fitted.withUnsafeMutableBufferPointer { w in
            weights.withUnsafeBufferPointer { e in
                negated.withUnsafeBufferPointer { u in
                    OBSSweep.subtractProduct(w.baseAddress!, rows: rows, stride: n, e.baseAddress!, width: n, u.baseAddress!, rest: n)
                }
            }
        }
        guard fitted.allSatisfy(\.isFinite) else {
            throw PassError.unsupported(tensor: layer, reason: "fitting the dense model's outputs gave non-finite weights")
        }
        return fitted
    }
}
