import AICompressCore

/// An output file being written, as a `ModelSink`: tensors go in one at a time, then `finish`,
/// then `commit` moves the file into place (or `abort` removes every trace of it).
///
/// Whether it streams is the format writer's declaration (`FormatWriter.streams`); every
/// registered format does. A streaming writer gets each tensor on a background queue while the
/// next one is computed, and the mapped input pages it came from are released. Formats that
/// need every size before the first byte (ONNX, safetensors) take each tensor as a file view
/// (`WholeModelWriter`: untouched input tensors as they are, results parked in a scratch file)
/// and lay the file out at `finish`.
///
/// ```swift
/// let session = try ModelIO.openWriter(path: "out.ckpt", format: .checkpoint)
/// do {
///     for t in model.tensors { try session.append(t, releasing: nil) }
///     try session.finish(metadata: model.metadata, graph: model.graph)
///     try session.commit()
/// } catch { session.abort(); throw error }
/// ```
public final class ModelWriteSession: ModelSink {
    /// The output path (`-` for standard output).
    public let path: String
    /// The output format.
    public let format: ModelFormat
    private let options: ModelWriteOptions
    private let writer: any FormatWriter
    // Streaming writers run behind this queue.
    private let background: BackgroundWriter?
    private var finished = false

    init(path: String, format: ModelFormat, options: ModelWriteOptions, refusing: [FileIdentity]) throws {
        self.path = path
        self.format = format
        self.options = options
        try ModelIO.checkNotInput(path, refusing)
        writer = try ModelIO.makeWriter(format, WriteRequest(path: path, refusing: refusing, options: options,
                                                              progress: options.progress))
        background = writer.streams ? BackgroundWriter(writer) : nil
    }

    /// Whether tensors are written as they arrive (the format's writer says).
    public var streams: Bool { writer.streams }

    /// Takes the next tensor; a streaming output writes it in the background and then releases
    /// `input`'s mapped pages.
    public func append(_ tensor: Tensor, releasing input: TensorData?) throws {
        do {
            if let background { try background.append(tensor, thenDrop: input) } else { try writer.append(tensor, releasing: input) }
        } catch { throw ModelIO.naming(error, output: path) }
    }

    /// The tensor bytes the output format stores for `tensor` (dense zeros in ONNX and
    /// safetensors, QDQ initializers, ...), as the pass report gives them.
    public func storedBytes(of tensor: Tensor) -> Int {
        format.handler.storedBytes(of: tensor, options: options)
    }

    /// Writes what remains (for the holding formats: the whole model).
    public func finish(metadata: [String: String], graph: Graph?) throws {
        finished = true
        do {
            if let background { try background.finish(metadata: metadata, graph: graph) } else {
                try writer.finish(metadata: metadata, graph: graph)
            }
        } catch { throw ModelIO.naming(error, output: path) }
    }

    /// Moves the finished output into place.
    public func commit() throws {
        guard finished else { throw ModelFileError(path: path, kind: .unrepresentable(CheckpointError.unrepresentable("output committed before it was finished"))) }
        try writer.commit()
    }

    /// Removes the unfinished output; safe to call more than once.
    public func abort() {
        writer.abort()
    }
}

/// How an output is written.
public struct ModelWriteOptions: Sendable {
    /// `fsync` the file before moving it into place.
    public var durable: Bool
    /// Options for ONNX output; external data goes to `<path>.data`.
    public var onnx: ONNXWriteOptions
    /// Largest shard of a sharded safetensors set, if the output is to be sharded.
    public var shardSize: Int?
    /// Write only this shard of a sharded set, and its partial index (`ShardPart`).
    public var shardPart: ShardPart?
    /// Called with the bytes written so far.
    public var progress: (@Sendable (Int) -> Void)?

    /// Options as given; the defaults write one file, not synced.
    public init(durable: Bool = false, onnx: ONNXWriteOptions = ONNXWriteOptions(), shardSize: Int? = nil,
                shardPart: ShardPart? = nil, progress: (@Sendable (Int) -> Void)? = nil) {
        self.durable = durable
        self.onnx = onnx
        self.shardSize = shardSize
        self.shardPart = shardPart
        self.progress = progress
    }
}

extension ModelIO {
    /// Opens an output for writing tensor by tensor. Refuses a path that names one of `inputs`.
    /// - Throws: `FileError` or `ModelFileError`.
    public static func openWriter(path: String, format: ModelFormat, refusing inputs: [FileIdentity] = [],
                                  options: ModelWriteOptions = ModelWriteOptions()) throws -> ModelWriteSession {
        HeapTuning.returnLargeBuffersToTheSystem()
        return try ModelWriteSession(path: path, format: format, options: options, refusing: inputs)
    }
}
