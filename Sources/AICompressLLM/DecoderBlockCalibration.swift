import AICompressCore
import Foundation

/// What the compress closure of `LayerwiseDecoderCalibration.run` is given for one block: the
/// block's weights (as stored: views of the mapped file) and the statistics of its inputs over
/// every calibration sequence, those inputs computed by the blocks before it *as already
/// compressed*.
public struct DecoderBlockCalibration: Sendable {
    /// The block index (`blk.N`).
    public let index: Int
    /// Blocks in the model.
    public let blocks: Int
    /// The block's weights before compression.
    public let layer: DecoderLayer
    /// Shared by every copy of this value, so that `releaseMatrices` frees memory whoever else
    /// holds the block.
    private let store: Store

    /// A block's calibration (the engine makes these; tests may too).
    public init(index: Int, blocks: Int, layer: DecoderLayer, statistics: [BlockInputStatistics.Group: BlockInputStatistics]) {
        self.index = index
        self.blocks = blocks
        self.layer = layer
        store = Store(statistics)
    }

    /// The statistics of each input group (those released by `releaseMatrices` without their
    /// Gram and ΔᵀX matrices).
    public var statistics: [BlockInputStatistics.Group: BlockInputStatistics] { store.all }

    /// The statistics of the input `kind` multiplies (nil only when the block never ran, i.e.
    /// no calibration rows).
    public func statistics(for kind: ActivationSite.Kind) -> BlockInputStatistics? {
        store.get(BlockInputStatistics.Group(kind))
    }

    /// Drops the `columns²` matrices of `group`'s statistics — XᵀX (`gram: true`) and/or ΔᵀX
    /// (`cross: true`) — once the compressor has no further use for them (the last projection
    /// reading that input has its factor, or its dense-target gain): for a 5632-wide ffn_down
    /// each is 254 MB, and the block would otherwise hold them until it ends. Σx², Σ|x| and the
    /// counts stay.
    public func releaseMatrices(of group: BlockInputStatistics.Group, gram: Bool = true, cross: Bool = true) {
        store.release(group, gram: gram, cross: cross)
    }

    /// The statistics behind a lock (blocks are handed across threads).
    private final class Store: @unchecked Sendable {
        private var statistics: [BlockInputStatistics.Group: BlockInputStatistics]
        private let lock = NSLock()
        init(_ statistics: [BlockInputStatistics.Group: BlockInputStatistics]) { self.statistics = statistics }
        var all: [BlockInputStatistics.Group: BlockInputStatistics] { lock.withLock { statistics } }
        func get(_ group: BlockInputStatistics.Group) -> BlockInputStatistics? { lock.withLock { statistics[group] } }
        func release(_ group: BlockInputStatistics.Group, gram: Bool, cross: Bool) {
            lock.withLock {
                guard let s = statistics[group] else { return }
                statistics[group] = BlockInputStatistics(group: s.group, columns: s.columns, rows: s.rows, sumSquares: s.sumSquares,
                                                         gram: gram ? nil : s.gram, sumAbsolute: s.sumAbsolute, cross: cross ? nil : s.cross)
            }
        }
    }

    /// The weight matrix of projection `kind` (`rows` outputs × `columns` inputs); in a fused
    /// block, the row view of `kind` inside its fused weight.
    public func weights(_ kind: ActivationSite.Kind) -> WeightMatrix { layer.matrix(kind) }

    /// The GGUF tensor name of the separate projection `kind` in this block (`blk.N.attn_q.weight`, …).
    public func tensorName(_ kind: ActivationSite.Kind) -> String { ActivationSite(layer: index, kind: kind).tensorName }

    /// The weights this block stores, each once, in the decoder's order: the seven separate
    /// projections of a llama block; phi3's fused attn_qkv (as `.query`, fused) and ffn_up (as
    /// `.up`, fused) in place of q/k/v and gate/up. A compressor goes through these, and keys
    /// each replacement by the site's kind (`LayerwiseDecoderCalibration.run`).
    public var projections: [ActivationSite] { layer.projections(block: index) }

    /// The stored weight `site` names: a fused site's whole fused matrix, otherwise the projection.
    public func weights(_ site: ActivationSite) -> WeightMatrix { layer.matrix(site) }
}

extension DecoderLayer {
    /// The projection `kind` names.
    public func matrix(_ kind: ActivationSite.Kind) -> WeightMatrix {
        switch kind {
        case .query: return query
        case .key: return key
        case .value: return value
        case .output: return output
        case .gate: return gate
        case .up: return up
        case .down: return down
        }
    }

    /// The stored weights of block `block` (see `DecoderBlockCalibration.projections`).
    public func projections(block: Int) -> [ActivationSite] {
        let attention: [ActivationSite] = fusedQKV != nil ? [ActivationSite(layer: block, kind: .query, fused: true)]
            : [.query, .key, .value].map { ActivationSite(layer: block, kind: $0) }
        let feedForward: [ActivationSite] = fusedGateUp != nil ? [ActivationSite(layer: block, kind: .up, fused: true)]
            : [.gate, .up].map { ActivationSite(layer: block, kind: $0) }
        return attention + [ActivationSite(layer: block, kind: .output)] + feedForward + [ActivationSite(layer: block, kind: .down)]
    }

    /// The stored weight `site` names: the fused matrix for a fused site of a block that has
    /// it, otherwise the projection of `site.kind`.
    public func matrix(_ site: ActivationSite) -> WeightMatrix {
        guard site.fused else { return matrix(site.kind) }
        switch site.kind {
        case .query, .key, .value: return fusedQKV ?? matrix(site.kind)
        case .gate, .up: return fusedGateUp ?? matrix(site.kind)
        case .output, .down: return matrix(site.kind)
        }
    }

    /// This block with some of its stored weights replaced (the others kept), each given as an
    /// f32 tensor keyed by the kind of one of `projections(block:)`: a fused replacement is cut
    /// into its q/k/v (gate/up) row views as the reader cuts the stored tensor.
    /// - Throws: `LLMError.unsupportedTensor` for a kind that is not a stored weight of this
    ///   block (attn_k of a fused attn_qkv), `.tensorEncoding` as `DecoderTensorReader.rows`.
    func replacing(_ tensors: [ActivationSite.Kind: Tensor], block: Int) throws(LLMError) -> DecoderLayer {
        let stored = Set(projections(block: block).map(\.kind))
        var matrices: [ActivationSite.Kind: WeightMatrix] = [:]
        var fusedQKV = fusedQKV, fusedGateUp = fusedGateUp
        for (kind, t) in tensors.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let site = ActivationSite(layer: block, kind: kind, fused: true)
            guard stored.contains(kind) else {
                throw .unsupportedTensor(tensor: site.tensorName, reason: "is one fused weight; its replacement is keyed by "
                    + "\(kind == .key || kind == .value ? "attn_q" : "ffn_up"), not \(kind.rawValue)")
            }
            let m = try WeightMatrix(t)
            switch kind {
            case .query where fusedQKV != nil:
                let (q, k) = (query.rows, key.rows)
                matrices[.query] = try DecoderTensorReader.rows(t, m, 0..<q, suffix: "q")
                matrices[.key] = try DecoderTensorReader.rows(t, m, q..<(q + k), suffix: "k")
                matrices[.value] = try DecoderTensorReader.rows(t, m, (q + k)..<(q + k + value.rows), suffix: "v")
                fusedQKV = m
            case .up where fusedGateUp != nil:
                let g = gate.rows
                matrices[.gate] = try DecoderTensorReader.rows(t, m, 0..<g, suffix: "gate")
                matrices[.up] = try DecoderTensorReader.rows(t, m, g..<(g + up.rows), suffix: "up")
                fusedGateUp = m
            default:
                matrices[kind] = m
            }
        }
        var layer = replacing(matrices)
        layer.fusedQKV = fusedQKV
        layer.fusedGateUp = fusedGateUp
        return layer
    }

    /// This block with some projections replaced (the others kept, and any fused matrices as
    /// they are: `replacing(_:block:)` replaces those).
    func replacing(_ matrices: [ActivationSite.Kind: WeightMatrix]) -> DecoderLayer {
        func m(_ k: ActivationSite.Kind) -> WeightMatrix { matrices[k] ?? matrix(k) }
        var layer = DecoderLayer(attentionNorm: attentionNorm, query: m(.query), key: m(.key), value: m(.value), output: m(.output),
                                 queryBias: queryBias, keyBias: keyBias, valueBias: valueBias, outputBias: outputBias,
                                 ffnNorm: ffnNorm, gate: m(.gate), up: m(.up), down: m(.down),
                                 gateBias: gateBias, upBias: upBias, downBias: downBias, queryNorm: queryNorm, keyNorm: keyNorm)
        layer.fusedQKV = fusedQKV
        layer.fusedQKVBias = fusedQKVBias
        layer.fusedGateUp = fusedGateUp
        return layer
    }
}
