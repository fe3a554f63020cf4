import AICompressCore

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
    /// The statistics of each input group.
    public let statistics: [BlockInputStatistics.Group: BlockInputStatistics]

    /// A block's calibration (the engine makes these; tests may too).
    public init(index: Int, blocks: Int, layer: DecoderLayer, statistics: [BlockInputStatistics.Group: BlockInputStatistics]) {
        self.index = index
        self.blocks = blocks
        self.layer = layer
        self.statistics = statistics
    }

    /// The statistics of the input `kind` multiplies (nil only when the block never ran, i.e.
    /// no calibration rows).
    public func statistics(for kind: ActivationSite.Kind) -> BlockInputStatistics? {
        statistics[BlockInputStatistics.Group(kind)]
    }

    /// The weight matrix of projection `kind` (`rows` outputs × `columns` inputs).
    public func weights(_ kind: ActivationSite.Kind) -> WeightMatrix { layer.matrix(kind) }

    /// The GGUF tensor name of projection `kind` in this block (`blk.N.attn_q.weight`, …).
    public func tensorName(_ kind: ActivationSite.Kind) -> String { ActivationSite(layer: index, kind: kind).tensorName }
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

    /// This block with some projections replaced (the others kept).
    func replacing(_ matrices: [ActivationSite.Kind: WeightMatrix]) -> DecoderLayer {
        func m(_ k: ActivationSite.Kind) -> WeightMatrix { matrices[k] ?? matrix(k) }
        return DecoderLayer(attentionNorm: attentionNorm, query: m(.query), key: m(.key), value: m(.value), output: m(.output),
                            queryBias: queryBias, keyBias: keyBias, valueBias: valueBias, outputBias: outputBias,
                            ffnNorm: ffnNorm, gate: m(.gate), up: m(.up), down: m(.down),
                            gateBias: gateBias, upBias: upBias, downBias: downBias, queryNorm: queryNorm, keyNorm: keyNorm)
    }
}
