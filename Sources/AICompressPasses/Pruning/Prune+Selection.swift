import AICompressCore

extension Prune {
    /// The tensors of `model` this pass prunes, in model order (the order global ties are
    /// handed out in). May be empty; `prepare` refuses that, a shard of a sharded run need not.
    func selectedTensors(_ model: Model) -> [Tensor] {
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        return model.tensors.filter { selection.selects($0, embeddings: embeddings) }
    }

    /// A `MagnitudeThreshold` release callback dropping the pages of the mapped tensors among
    /// `selected` as they are counted, so that the statistics of a model larger than memory
    /// never need it all resident.
    static func pageRelease(_ selected: [Tensor], _ views: [FloatView]) -> @Sendable (Int, Range<Int>) -> Void {
        let mapped = zip(selected, views).map { $0.1.isView ? $0.0.data : nil }
        return { r, range in
            guard let d = mapped[r] else { return }
            d.buffer.dropPages((d.offset + range.lowerBound * 4)..<(d.offset + range.upperBound * 4))
        }
    }

    /// How many of its ties at a global `threshold` each of `selected` keeps: in model order
    /// until `budget` is spent (`ties` gives a tensor's ties; `Prune.prepare` and each shard of a
    /// sharded run hand them out alike). Empty when every tie is kept.
    static func tieQuotas(_ selected: [Tensor], threshold: MagnitudeThreshold.Result, budget: Int,
                          ties: (Int) throws -> Int) rethrows -> [String: Int] {
        var quota: [String: Int] = [:]
        guard !threshold.keepsAllTies else { return quota }
        var remaining = budget
        for (i, t) in selected.enumerated() {
            let q = min(try ties(i), remaining)
            quota[t.name] = q
            remaining -= q
        }
        return quota
    }
}
