import AICompressCore

/// GPTQ into a ggml block type: the OBS column sweep (`OBSSweep`) where the quantizer of each
/// column is the type's block quantizer. When the sweep enters a block (32 columns for the
/// legacy types, a 256-column super-block for the K-types), every row's block header — scale,
/// min, sub-block scales — is fixed by the type's own scale search (`GGMLType.quantize`,
/// importance-weighted when `importance` is given, as llama-quantize --imatrix) on the
/// *current*, error-updated weights; each column of the block is then rounded onto that fixed
/// grid (`GGMLBlockGrid`) and its error spread over the columns not yet rounded. The bytes are
/// exactly the type's encoding; `weights` is what they decode to. With `scaleSearch`
/// `.sweepLoss` a Q4_0/Q5_0 block's scale is instead the candidate after which the sweep
/// through the block adds the least loss (`GGMLSweepScaleSearch`).
///
/// With `actOrder`, whole blocks are taken in order of decreasing Hessian mass (Σ diag H over
/// the block) and, inside each, columns by decreasing diag H: the scales of a block are still
/// fitted once, on entry, from all of its (updated) columns, so the block structure the
/// encoding needs is kept.
public struct GGMLGPTQ: Sendable {
    /// The block type.
    public let type: GGMLType
    /// Dampening, a fraction of the mean Hessian diagonal (GPTQ's 0.01).
    public var dampFraction: Double
    /// Columns per lazy-update batch (GPTQ's 128; rounded up to whole blocks of the type).
    public var blockSize: Int
    /// Blocks (and columns within them) by decreasing Hessian diagonal.
    public var actOrder: Bool
    /// How a block's header is fitted when the sweep enters it.
    public var scaleSearch: ScaleSearch

    /// How a block's header is fitted when the sweep enters the block.
    public enum ScaleSearch: String, Sendable, CaseIterable {
        /// The type's own search (llama-quantize's, importance-weighted when importance is given).
        case type
        /// Q4_0 and Q5_0: the scale, among the type's own and the `max / −(nmax ± 0.1·i)`
        /// family, after which the sweep through the block adds the least loss
        /// (`GGMLSweepScaleSearch`); other types: `type`.
        case sweepLoss
    }

    /// What one matrix gave.
    public struct Result: Sendable {
        /// The encoded rows (`rows × rowBytes`), the type's blocks.
        public var bytes: [UInt8]
        /// What `bytes` decode to (`rows × columns`); empty when not asked for (`decoding: false`).
        public var weights: [Float]
        /// Σ e²/2 of the sweep (GPTQ's proxy of the output error).
        public var loss: Double
    }

    /// GPTQ into `type`.
    /// - Throws: `PassError.invalidParameter` (`method`) for a type without a block grid (F16, BF16, F32).
    public init(type: GGMLType, dampFraction: Double = 0.01, blockSize: Int = 128, actOrder: Bool = false,
                scaleSearch: ScaleSearch = .type) throws {
        guard GGMLBlockGrid(type) != nil else {
            throw PassError.invalidParameter(name: "method", value: "gptq", reason: "`method` gptq into \(type) is not built (it rounds onto "
                + "the block grids of " + GGMLBlockGrid.supported.map(\.name).joined(separator: ", ") + ")")
        }
        self.type = type
        self.dampFraction = dampFraction
        self.blockSize = blockSize
        self.actOrder = actOrder
        self.scaleSearch = scaleSearch
    }

    /// Whether GPTQ can encode into `type`.
    public static func supports(_ type: GGMLType) -> Bool { GGMLBlockGrid(type) != nil }

    /// The types GPTQ encodes into (every quantized type the planner writes).
    public static var types: [GGMLType] { GGMLBlockGrid.supported }

    /// Quantizes `weights` (`rows × columns`, row-major; rows the outputs) given the layer's
    /// input Gram matrix `gram` (XᵀX, `columns²`) and, optionally, each column's importance:
    /// `factored(gram:)` then the sweep, one factor per matrix (the reference the block path,
    /// which shares one factor per input group, is tested against).
    /// - Throws: `PassError.unsupported` naming `layer` when the rows are not whole blocks or the
    ///   Hessian is not positive definite (non-finite statistics).
    /// `decoding: false` leaves `Result.weights` empty, for a tensor nothing runs on afterwards
    /// (the head, the embedding): no second f32 copy of it.
    public func quantize(_ weights: [Float], rows: Int, columns n: Int, gram: [Double], importance: [Float]?,
                         layer: String, decoding: Bool = true) throws -> Result {
        try checkShape(rows: rows, columns: n, weights: weights.count, gram: gram.count, layer: layer)
        return try quantize(weights, rows: rows, columns: n, factored: try factored(gram: gram, columns: n, layer: layer),
                            importance: importance, layer: layer, decoding: decoding)
    }

    /// The column order and Hessian factor GPTQ sweeps one input with: every matrix that reads
    /// that input (same XᵀX) with a GPTQ of the same `factorKey` sweeps with the same ones.
    public struct Factored: Sendable {
        /// Sweep column c is the model's column `order[c]` (the identity without act-order).
        public let order: [Int]
        /// The factor of XᵀX permuted by `order`.
        public let factor: HessianFactor
    }

    /// What `factored(gram:)` depends on besides XᵀX and the dampening: the act-order's block
    /// width (nil without act-order, whose order is the identity for every type).
    public var factorKey: Int? { actOrder ? type.blockSize : nil }

    /// The order and factor of the input whose Gram matrix is `gram` (`columns²`).
    /// - Throws: `PassError.unsupported` naming `layer` when the columns are not whole blocks or
    ///   the Hessian is not positive definite.
    public func factored(gram: [Double], columns n: Int, layer: String) throws -> Factored {
        try checkShape(rows: nil, columns: n, weights: nil, gram: gram.count, layer: layer)
        let order = actOrder ? Self.blockOrder(gram, n, block: type.blockSize) : Array(0..<n)
        let h = actOrder ? GPTQ.permuted(gram, n, order) : gram
        return Factored(order: order, factor: try HessianFactor(gram: h, columns: n, dampFraction: dampFraction, layer: layer))
    }

    /// Quantizes `weights` (`rows × columns`) with the order and factor of its input
    /// (`factored(gram:)` of a GPTQ with the same `factorKey` and dampening).
    /// - Throws: `PassError.unsupported` naming `layer` when the rows are not whole blocks or the
    ///   factor is of another width.
    public func quantize(_ weights: [Float], rows: Int, columns n: Int, factored: Factored, importance: [Float]?,
                         layer: String, decoding: Bool = true) throws -> Result {
        try checkShape(rows: rows, columns: n, weights: weights.count, gram: factored.factor.columns * factored.factor.columns, layer: layer)
        let b = type.blockSize, order = factored.order, factor = factored.factor
        var w = actOrder ? GPTQ.permutedColumns(weights, rows, n, order) : weights
        var rule = GGMLBlockRule(type: type, rows: rows, columns: n, order: order, importance: importance,
                                 upper: scaleSearch == .sweepLoss ? factor.upper : nil)
        let batch = max(blockSize, b) / b * b
        let loss = OBSSweep(blockSize: batch).run(&w, rows: rows, factor: factor, rule: &rule)
        if actOrder { w = GPTQ.permutedColumns(w, rows, n, GPTQ.inverse(order)) }
        let bytes = rule.encode(w)
        return Result(bytes: bytes, weights: decoding ? try type.dequantize(bytes) : [], loss: loss)
    }

    /// Refuses rows that are not whole blocks of the type, or weights and a Gram matrix that are
    /// not `rows × columns` and `columns²` (each checked when given).
    private func checkShape(rows: Int?, columns n: Int, weights: Int?, gram: Int, layer: String) throws {
        let b = type.blockSize
        guard n > 0, n % b == 0, weights == nil || weights == (rows ?? 0) * n, gram == n * n else {
            throw PassError.unsupported(tensor: layer, reason: "GPTQ into \(type) needs rows of whole \(b)-value blocks and an n×n Gram matrix "
                + "(rows of \(n), \(weights.map(String.init) ?? "no") weights, \(gram) Gram entries)")
        }
    }

    /// Act-order that keeps blocks whole: blocks by decreasing Σ diag H (ties by position),
    /// then within each block its columns by decreasing diag H (ties by position).
    static func blockOrder(_ h: [Double], _ n: Int, block b: Int) -> [Int] {
        let diag = (0..<n).map { h[$0 * n + $0] }
        let mass = (0..<(n / b)).map { g in (0..<b).reduce(0.0) { $0 + diag[g * b + $1] } }
        let blocks = (0..<(n / b)).sorted { mass[$0] != mass[$1] ? mass[$0] > mass[$1] : $0 < $1 }
        return blocks.flatMap { g in (g * b..<(g * b + b)).sorted { diag[$0] != diag[$1] ? diag[$0] > diag[$1] : $0 < $1 } }
    }
}
