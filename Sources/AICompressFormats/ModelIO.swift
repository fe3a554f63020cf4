import AICompressCore

/// Reads and writes models in any registered format, choosing the format by magic bytes on
/// input and by extension (or an explicit choice) on output. The one entry point the CLI uses.
public enum ModelIO {
    /// The output format when neither `--format` nor the extension names one.
    public static let defaultFormat = ModelFormat.checkpoint

    /// Reads the model at `path` (`-` for standard input; a folder: the file `modelPath` picks).
    /// - Throws: `FileError` or `ModelFileError`.
    public static func read(path given: String) throws -> LoadedModel {
        HeapTuning.returnLargeBuffersToTheSystem()  // tensors freed after writing leave memory
        let path = try modelPath(given)
        let input = try InputFile(path: path)
        guard input.size > 0 else { throw ModelFileError(path: path, kind: .empty) }
        // Content decides; a file named .ckpt that does not look like one gets the checkpoint
        // reader's own, more specific error (bad magic, truncated).
        guard let format = ModelFormat.sniff(input.buffer.bytes) ?? ModelFormat.fromExtension(of: path) else {
            throw ModelFileError(path: path, kind: .unknownFormat)
        }
        // A model read from standard input has no folder to find its side files in.
        let sideFiles: any SideFileResolver = path == "-" ? NoSideFiles() : FolderSideFiles(besides: path)
        do {
            let r = try format.handler.read(input, sideFiles: sideFiles)
            return LoadedModel(model: r.model, format: format, input: input, formatVersion: r.formatVersion,
                               fileCRC32: r.fileCRC32, others: r.sideFiles)
        } catch let e as any FormatError {
            throw ModelFileError(path: path, kind: .invalid(e))
        }
    }

    /// The model file a path names: the path itself, or for a folder (a Hugging Face checkpoint)
    /// its model.safetensors.index.json, model.safetensors, or its one model file.
    /// - Throws: `FileError.folderWithoutModel`.
    public static func modelPath(_ path: String) throws(FileError) -> String { try ModelFolder.entry(path) }

    /// Refuses an output path that names one of the input files.
    /// - Throws: `FileError.outputIsInput`.
    public static func checkNotInput(_ path: String, _ inputs: [FileIdentity]) throws {
        if path != "-", let id = FileIdentity(path: path), inputs.contains(id) { throw FileError.outputIsInput(path: path) }
    }

    /// The output format for `path`: `explicit`, else the extension, else (for `-` only) the
    /// native checkpoint. A file name whose extension names no registered format is refused
    /// rather than written in a format its name does not say.
    /// - Throws: `ModelFileError` (`.unknownOutputFormat`, a usage fault).
    public static func outputFormat(path: String, explicit: ModelFormat?) throws -> ModelFormat {
        if let explicit { return explicit }
        if let format = ModelFormat.fromExtension(of: path) { return format }
        guard path == "-" else { throw ModelFileError(path: path, kind: .unknownOutputFormat) }
        return defaultFormat
    }

    /// Writes `model` to `path` atomically (`-` streams to standard output).
    /// - Parameters:
    ///   - refusing: the identity of the input, so that it is never replaced.
    ///   - durable: `fsync` the file before moving it into place.
    ///   - onnx: options for ONNX output; external data goes to `<path>.data`.
    ///   - shardSize, shardPart: safetensors output as shards of at most that size, or as that
    ///     one shard of a scale-out run plus its partial index (spec/sharded-runs.md).
    /// - Throws: `FileError` or `ModelFileError`; no partial output is left behind.
    public static func write(
        _ model: Model, to path: String, format: ModelFormat, refusing inputs: [FileIdentity] = [], durable: Bool = false,
        onnx: ONNXWriteOptions = ONNXWriteOptions(), shardSize: Int? = nil, shardPart: ShardPart? = nil,
        progress: ((Int) -> Void)? = nil
    ) throws {
        try checkNotInput(path, inputs)
        let request = WriteRequest(path: path, refusing: inputs,
                                   options: ModelWriteOptions(durable: durable, onnx: onnx, shardSize: shardSize, shardPart: shardPart),
                                   progress: progress)
        let writer = try makeWriter(format, request)
        do {
            // Written tensors need not stay resident: a streaming writer drops their pages.
            for t in model.tensors { try writer.append(t, releasing: t.data) }
            try writer.finish(metadata: model.metadata, graph: model.graph)
            try writer.commit()
        } catch {
            writer.abort()
            throw naming(error, output: path)
        }
    }

    /// The format's writer for `request`, its errors naming the output.
    static func makeWriter(_ format: ModelFormat, _ request: WriteRequest) throws -> any FormatWriter {
        do { return try format.handler.makeWriter(request) } catch { throw naming(error, output: request.path) }
    }

    /// A format's error wrapped in a `ModelFileError` naming the output; others as they are.
    static func naming(_ error: Error, output path: String) -> Error {
        if let e = error as? any FormatError { return ModelFileError(path: path, kind: .unrepresentable(e)) }
        return error
    }
}
