import AICompressCore

/// Global magnitude pruning of one shard under a threshold fixed by the merged statistics of
/// every shard (`GlobalPruneThreshold`, round 2): the tensors of shard K come out bit for bit
/// as one process prunes them, ties included. Its name and parameters are those of `prune`, so
/// the output's provenance and recipe are what one process records.
///
/// ```swift
/// let pass = try ShardedGlobalPrune(prune: Prune(method: .magnitude(keep: 0.3, scope: .global)),
///                                   threshold: merged, shard: 2)
/// ```
public struct ShardedGlobalPrune: CompressionPass {
    /// The pass as the command line gave it (global magnitude pruning).
    public let prune: Prune
    /// The final threshold.
    public let threshold: GlobalPruneThreshold
    /// K, 1-based.
    public let shard: Int
    /// The file `threshold` came from (for messages).
    public let file: String

    /// Pruning of shard `shard` by `threshold`.
    /// - Throws: `GlobalPruneError.wrongRound` unless `threshold` is final, `.disagree` when
    ///   `shard` is not one of its shards.
    public init(prune: Prune, threshold: GlobalPruneThreshold, shard: Int, file: String = "") throws {
        guard threshold.round == 2, threshold.result != nil else {
            throw GlobalPruneError.wrongRound(file: file, reason: "a round-1 threshold; count round 2 with --stats and merge it first")
        }
        guard shard >= 1, shard <= threshold.shards.count else {
            throw GlobalPruneError.disagree(file: file, reason: "a threshold of \(threshold.shards.count) shards, not for shard \(shard)")
        }
        self.prune = prune
        self.threshold = threshold
        self.shard = shard
        self.file = file
    }

    /// `prune`.
    public var name: String { prune.name }
    /// The pruning pass's own words (the threshold is not a parameter: one process finds it).
    public var parameters: [(String, String)] { prune.parameters }

    /// Checks that the shard selects what its statistics counted (tensors, elements, ties at
    /// the threshold), then hands the shard's tie budget out in model order.
    /// - Throws: `GlobalPruneError.inputDiffers` naming the threshold file.
    public func prepare(_ model: Model) throws -> any TensorTransform {
        guard case .magnitude(let keep, .global) = prune.method, let result = threshold.result else {
            throw Prune.Parameter.scope.invalid("tensor", "a threshold file is for magnitude pruning with `scope` global")
        }
        try prune.validate()
        let selected = prune.selectedTensors(model)
        let counted = threshold.shards[shard - 1]
        let elements = selected.reduce(0) { $0 + $1.elementCount }
        guard selected.count == counted.tensors, elements == counted.elements else {
            throw GlobalPruneError.inputDiffers(file: file, reason: "shard \(shard) selects \(selected.count) tensors of \(elements) "
                                                + "elements; its statistics counted \(counted.tensors) of \(counted.elements)")
        }
        var tiesSeen = 0
        let quota = try Prune.tieQuotas(selected, threshold: result, budget: threshold.tieBudget(shard: shard)) { i in
            let view = try FloatView(selected[i])
            defer { view.release() }
            let ties = view.values.isEmpty ? 0 : Prune.countAbove(view.values, 0..<view.values.count, result.bits).1
            tiesSeen += ties
            return ties
        }
        if !result.keepsAllTies && tiesSeen != counted.ties {
            throw GlobalPruneError.inputDiffers(file: file, reason: "shard \(shard) has \(tiesSeen) values at the threshold; "
                                                + "its statistics counted \(counted.ties)")
        }
        return Prune.MagnitudeTransform(selected: Set(selected.map(\.name)), global: result, tieQuota: quota, keep: keep,
                                        chunkCounts: [:], kernel: prune.kernel)
    }
}
