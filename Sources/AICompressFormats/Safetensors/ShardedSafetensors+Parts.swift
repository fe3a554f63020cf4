import AICompressCore

/// Scale-out runs (spec/sharded-runs.md): one process per input shard writes its output shard
/// and a partial index; `merge` joins the partial indexes into the index one process writes.
extension ShardedSafetensors {
    /// Schema of a partial index.
    static let partSchema = "aicompress.safetensors-index-part/1"

    /// The names of the tensors the index in `index` puts in shard `part` (stored names:
    /// `NAME`, `NAME_scale`, …).
    /// - Throws: `SafetensorsError.invalidIndex`, `ShardedRunError.shardCountMismatch`.
    static func tensors(of part: ShardPart, index: InputFile) throws -> Set<String> {
        let parsed = try index.buffer.withUnsafeBytes { try parseIndex($0) }
        guard parsed.shards.count == part.n else {
            throw ShardedRunError.shardCountMismatch(index: index.path, given: part.n, actual: parsed.shards.count)
        }
        let file = parsed.shards[part.k - 1]
        return Set(parsed.weightMap.filter { $0.value == file }.keys)
    }

    /// Writes shard `part` of the output (the tensors of `model`, which are that input shard's)
    /// and then its partial index, both atomically at commit. The shard holds the bytes one
    /// process writes for it: the same lowering, metadata and order.
    static func writePart(_ model: Model, _ request: WriteRequest, part: ShardPart, outputs: OutputFiles) throws {
        guard request.path != "-" else { throw SafetensorsError.unrepresentable("a shard of a set needs a file name, not standard output") }
        let names = part.outputNames(for: request.path)
        for p in [names.shard, names.part] { try ModelIO.checkNotInput(p, request.refusing) }
        let (lowered, metadata) = try SafetensorsQuantization.lowerGrouped(model.tensors, metadata: model.metadata)
        let tensors = lowered.flatMap { $0 }
        var out = try outputs.create(names.shard, durable: request.options.durable)
        out.onWrite = request.progress
        try SafetensorsWriter.write(tensors: tensors, metadata: metadata, to: &out)
        var index = try outputs.create(names.part, durable: request.options.durable)
        try index.write(partJSON(part: part, shard: base(names.shard), fileSize: out.bytesWritten, tensors: tensors))
    }

    /// A partial index: which shard of how many, its file and size, and its weight map.
    static func partJSON(part: ShardPart, shard: String, fileSize: Int, tensors: [Tensor]) -> [UInt8] {
        let total = tensors.reduce(0) { $0 + $1.data.count }
        let map = tensors.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var json = "{\n  \"schema\": \(JSONWriter.quote(partSchema)),\n  \"shard\": \(part.k),\n  \"shards\": \(part.n),\n"
        json += "  \"file\": \(JSONWriter.quote(shard)),\n  \"file_size\": \(fileSize),\n  \"total_size\": \(total),\n"
        json += "  \"weight_map\": {\n" + map.map { "    \(JSONWriter.quote($0)): \(JSONWriter.quote(shard))" }.joined(separator: ",\n")
        json += "\n  }\n}\n"
        return Array(json.utf8)
    }

    /// The last component of `path`.
    static func base(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }
}

extension LoadedModel {
    /// This sharded set's model restricted to the tensors of input shard `part` (in their
    /// order); metadata and the input's facts stay those of the whole set, so the output
    /// shard's provenance is what one process writes.
    /// - Throws: `ShardedRunError` (not a sharded set, N not its shard count),
    ///   `SafetensorsError`, `FileError`.
    public func restricted(toShard part: ShardPart, input path: String) throws -> LoadedModel {
        let indexPath = path.hasSuffix(".json") ? path : ShardedSafetensors.indexNaming(shard: path)
        guard format == .safetensors, formatVersion.hasPrefix("sharded"), let indexPath else {
            throw ShardedRunError.notSharded(input: path)
        }
        let names = try ShardedSafetensors.tensors(of: part, index: try InputFile(path: indexPath))
        var restricted = self
        restricted.model = try Model(tensors: model.tensors.filter { names.contains($0.name) }, metadata: model.metadata,
                                     graph: model.graph)
        return restricted
    }
}
