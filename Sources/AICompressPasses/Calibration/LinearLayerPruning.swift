/// One linear layer (`rows` outputs × `columns` inputs, row-major) pruned from input statistics
/// given as plain arrays, for callers whose statistics do not come from `LayerwiseCalibration`
/// (the LLM decoder's layer-by-layer engine). Wanda needs Σx² per input column; SparseGPT a
/// factored Hessian of the same input, which layers reading one input (a decoder's q/k/v,
/// gate/up) share. `magnitude` is the per-row |w| baseline Wanda's paper compares with (Wanda
/// with every input norm 1), for tests and figures.
public struct LinearLayerPruning: Sendable {
    /// How the layer's weights are chosen.
    public enum Method: String, Sendable, CaseIterable {
        /// The smallest |w| of each output row (no data).
        case magnitude
        /// The smallest |w|·‖x‖₂ of each output row (no update).
        case wanda
        /// SparseGPT's saliency per block of 128 columns over all rows, the kept weights updated.
        case sparsegpt
    }

    /// The method.
    public var method: Method
    /// What is removed.
    public var pattern: SparsityPattern

    /// A pruning of `pattern` by `method`.
    public init(method: Method, pattern: SparsityPattern) {
        self.method = method
        self.pattern = pattern
    }

    /// What pruning one layer gave.
    public struct Result: Sendable, Equatable {
        /// The new weights (pruned ones exactly 0), `rows × columns`.
        public var values: [Float]
        /// The keep mask, `rows × columns`.
        public var keep: [Bool]
    }

    /// Prunes `weights` (`rows × columns`). `sumSquares` (Σx_j², `columns` values) is what Wanda
    /// reads; `factor` what SparseGPT reads (`HessianFactor` of the input's XᵀX).
    /// - Throws: `PassError.unsupported` naming `layer` when the statistics the method needs are
    ///   missing, of the wrong width, or not finite.
    public func prune(_ weights: [Float], rows: Int, columns: Int, sumSquares: [Double]?, factor: HessianFactor?,
                      layer: String) throws -> Result {
        guard weights.count == rows * columns else {
            throw PassError.unsupported(tensor: layer, reason: "has \(weights.count) weights, not \(rows) × \(columns)")
        }
        switch method {
        case .magnitude:
            let keep = Wanda.mask(weights, rows: rows, norms: [Double](repeating: 1, count: columns), pattern: pattern)
            return Result(values: zip(weights, keep).map { $1 ? $0 : 0 }, keep: keep)
        case .wanda:
            guard let s = sumSquares, s.count == columns else {
                throw PassError.unsupported(tensor: layer, reason: "Wanda needs Σx² of the layer's \(columns) input columns from the calibration data")
            }
            guard s.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw PassError.unsupported(tensor: layer, reason: "the calibration activations are not finite (Σx² is NaN or infinite)")
            }
            let keep = Wanda.mask(weights, rows: rows, norms: s.map { $0.squareRoot() }, pattern: pattern)
            return Result(values: zip(weights, keep).map { $1 ? $0 : 0 }, keep: keep)
        case .sparsegpt:
            guard let f = factor, f.columns == columns else {
                throw PassError.unsupported(tensor: layer, reason: "SparseGPT needs the calibration Gram matrix XᵀX of the layer's \(columns) inputs")
            }
            let r = SparseGPT().prune(weights, rows: rows, factor: f, pattern: pattern)
            return Result(values: r.weights, keep: r.mask)
        }
    }
}
