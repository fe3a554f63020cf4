import AICompressCore

extension ModelFormat {
    /// safetensors, single files and sharded sets (`*.safetensors.index.json`).
    public static let safetensors = ModelFormat(SafetensorsFormat())
}

/// safetensors in the format registry. An index, or one shard of a set whose index names it,
/// reads the whole set (the shards through the side-file resolver); everything else is one
/// file. Written at `finish` (the header needs every size) from tensors taken one at a time
/// (`WholeModelWriter`), optionally as shards.
struct SafetensorsFormat: ModelFormatHandler {
    let id = "safetensors"
    let extensions = [".safetensors", ".safetensors.index.json"]

    func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool { SafetensorsReader.looksLikeSafetensors(bytes) }

    func read(_ input: InputFile, sideFiles: any SideFileResolver) throws -> FormatReading {
        let path = input.path
        let index: InputFile?
        if path.hasSuffix(".json") {
            index = input
        } else if path != "-", let indexPath = ShardedSafetensors.indexNaming(shard: path) {
            index = try InputFile(path: indexPath)
        } else {
            index = nil
        }
        guard let index else {
            let (model, crc) = try SafetensorsReader.read(input.buffer)
            return FormatReading(model: model, formatVersion: "single file", fileCRC32: crc)
        }
        do {
            let (model, shards, crc) = try ShardedSafetensors.read(index: index, sideFiles: sideFiles)
            // Every file of the set but the one given (that may be a shard) is a side file.
            let others = (index.path == path ? [] : [index]) + shards
            return FormatReading(model: model, formatVersion: "sharded, \(shards.count) files", fileCRC32: crc,
                                 sideFiles: others.filter { $0.identity != input.identity || $0.identity == nil })
        } catch let e as SafetensorsError {
            throw ModelFileError(path: index.path, kind: .invalid(e))
        }
    }

    /// With `options.shardSize`, a model over that size is written as shards plus an index;
    /// with `options.shardPart`, as that one shard plus its partial index.
    func makeWriter(_ request: WriteRequest) throws -> any FormatWriter {
        WholeModelWriter(path: request.path, storedForm: Self.storedForm) { model, outputs in
            if let part = request.options.shardPart {
                try ShardedSafetensors.writePart(model, request, part: part, outputs: outputs)
            } else if let maxBytes = request.options.shardSize {
                try writeShards(model, request, maxBytes: maxBytes, outputs: outputs)
            } else {
                try writeSingle(model, request, outputs: outputs, progress: request.progress)
            }
        }
    }

    /// Sparse tensors are stored dense; quantized ones as `NAME` + `NAME_scale` (f32) +
    /// `NAME_zero_point` (`SafetensorsQuantization`).
    func storedBytes(of stored: Tensor, options: ModelWriteOptions) -> Int {
        let tensor = (try? stored.expandedQuantized()) ?? stored
        guard case .quantized(let q) = tensor.encoding, let layout = tensor.quantizedLayout else {
            return tensor.isDense ? tensor.storedBytes : tensor.denseBytes
        }
        // The zero points (packed like the integers) end the checkpoint payload.
        return layout.integerBytes + layout.scaleCount * 4 + (q.hasZeroPoint ? layout.payloadBytes - layout.zeroPointsOffset : 0)
    }

    func writeSingle(_ model: Model, _ request: WriteRequest, outputs: OutputFiles, progress: ((Int) -> Void)?) throws {
        var out = try outputs.create(request.path, durable: request.options.durable)
        out.onWrite = progress
        try SafetensorsWriter.write(tensors: model.tensors, metadata: model.metadata, to: &out)
    }

    /// Shards of at most `maxBytes`, then the index, each file atomically; the index goes into
    /// place last. A model that fits in one shard is written as a single file at the path.
    /// Quantized tensors are lowered first, so that the shards and the index name the tensors
    /// that are in the files; each shard's metadata describes the quantized tensors it holds.
    func writeShards(_ model: Model, _ request: WriteRequest, maxBytes: Int, outputs: OutputFiles) throws {
        let path = request.path
        let (lowered, metadata) = try SafetensorsQuantization.lowerGrouped(model.tensors, metadata: model.metadata)
        let groups = ShardedSafetensors.plan(lowered, maxBytes: maxBytes)
        guard groups.count > 1 else { return try writeSingle(model, request, outputs: outputs, progress: nil) }
        guard path != "-" else { throw SafetensorsError.unrepresentable("a sharded set needs a file name, not standard output") }
        let (names, indexPath) = ShardedSafetensors.names(for: path, count: groups.count)
        for p in names + [indexPath] { try ModelIO.checkNotInput(p, request.refusing) }
        let prefix = SafetensorsQuantization.keyPrefix
        for (i, group) in groups.enumerated() {
            let here = Set(group.map { prefix + $0.name })
            let shardMetadata = metadata.filter { !$0.key.hasPrefix(prefix) || here.contains($0.key) }
            var out = try outputs.create(names[i], durable: request.options.durable)
            try SafetensorsWriter.write(tensors: group, metadata: shardMetadata, to: &out)
        }
        var index = try outputs.create(indexPath, durable: request.options.durable)
        try index.write(ShardedSafetensors.indexJSON(shards: groups, shardNames: names))
    }
}
