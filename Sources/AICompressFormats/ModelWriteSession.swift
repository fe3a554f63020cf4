import AICompressCore
import Dispatch

/// An output file being written, as a `ModelSink`: tensors go in one at a time, then `finish`,
/// then `commit` moves the file into place (or `abort` removes every trace of it).
///
/// A native checkpoint streams: each tensor is written on a background queue while the next one
/// is computed, and the mapped input pages it came from are released. The other formats need
/// every size before the first byte, so their tensors are held until `finish`.
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
    private let refusing: [FileIdentity]
    // Streaming (checkpoint): the open file and its background writer.
    private var file: OutputFile?
    private var background: BackgroundWriter?
    // Not streaming: the tensors held until `finish`.
    private var held = Model()
    private var finished = false

    init(path: String, format: ModelFormat, options: ModelWriteOptions, refusing: [FileIdentity]) throws {
        self.path = path
        self.format = format
        self.options = options
        self.refusing = refusing
        try ModelIO.checkNotInput(path, refusing)
        if format == .checkpoint {
            let f = try OutputFile(path: path, durable: options.durable)
            f.onWrite = options.progress
            do { background = try BackgroundWriter(sink: f) } catch {
                f.abort()
                if let e = error as? CheckpointError { throw ModelFileError(path: path, kind: .unrepresentable(e)) }
                throw error
            }
            file = f
        }
    }

    public var streams: Bool { background != nil }

    public func append(_ tensor: Tensor, releasing input: TensorData?) throws {
        if let background {
            do { try background.append(tensor, thenDrop: input) } catch { throw wrap(error) }
        } else {
            try held.append(tensor)
        }
    }

    public func finish(metadata: [String: String], graph: Graph?) throws {
        finished = true
        if let background {
            do { try background.finish(metadata: metadata, graph: graph) } catch { throw wrap(error) }
        } else {
            held.metadata = metadata
            held.graph = graph
            let model = held
            held = Model()
            // The whole-model writers create, write and commit their files themselves.
            try ModelIO.write(model, to: path, format: format, refusing: refusing, durable: options.durable,
                              onnx: options.onnx, shardSize: options.shardSize, progress: options.progress)
        }
    }

    /// Moves the finished output into place.
    public func commit() throws {
        guard finished else { throw ModelFileError(path: path, kind: .unrepresentable(CheckpointError.unrepresentable("output committed before it was finished"))) }
        try file?.commit()
        file = nil
    }

    /// Removes the unfinished output; safe to call more than once.
    public func abort() {
        file?.abort()
        file = nil
        held = Model()
    }

    private func wrap(_ error: Error) -> Error {
        if let e = error as? CheckpointError { return ModelFileError(path: path, kind: .unrepresentable(e)) }
        return error
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
    /// Called with the bytes written so far.
    public var progress: (@Sendable (Int) -> Void)?

    public init(durable: Bool = false, onnx: ONNXWriteOptions = ONNXWriteOptions(), shardSize: Int? = nil,
                progress: (@Sendable (Int) -> Void)? = nil) {
        self.durable = durable
        self.onnx = onnx
        self.shardSize = shardSize
        self.progress = progress
    }
}

extension ModelIO {
    /// Opens an output for writing tensor by tensor. Refuses a path that names one of `inputs`.
    /// - Throws: `FileError` or `ModelFileError`.
    public static func openWriter(path: String, format: ModelFormat, refusing inputs: [FileIdentity] = [],
                                  options: ModelWriteOptions = ModelWriteOptions()) throws -> ModelWriteSession {
        try ModelWriteSession(path: path, format: format, options: options, refusing: inputs)
    }
}

/// Writes checkpoint tensors on a background queue while the next tensor is computed; at most
/// two finished tensors wait, so memory stays bounded. The first write error is reported by the
/// next call.
final class BackgroundWriter: @unchecked Sendable {
    // `writer` and `failure` are only touched on `queue`.
    private var writer: CheckpointWriter<OutputFile>
    private var failure: Error?
    private let queue = DispatchQueue(label: "aicompress.writer")
    private let slots = DispatchSemaphore(value: 2)

    init(sink: OutputFile) throws {
        writer = try CheckpointWriter(sink: sink)
    }

    /// Queues `tensor` for writing; `input` (the tensor it came from) has its mapped pages
    /// dropped once written.
    func append(_ tensor: Tensor, thenDrop input: TensorData?) throws {
        try pendingFailure()
        slots.wait()
        queue.async {
            if self.failure == nil {
                do { try self.writer.append(tensor) } catch { self.failure = error }
            }
            input?.dropPages()
            self.slots.signal()
        }
    }

    private func pendingFailure() throws {
        let f: Error? = queue.sync { self.failure }
        if let f { throw f }
    }

    /// Waits for the queued tensors and writes the index and footer.
    func finish(metadata: [String: String], graph: Graph?) throws {
        try pendingFailure()
        let result: Result<Void, Error> = queue.sync {
            Result { _ = try self.writer.finish(metadata: metadata, graph: graph) }
        }
        try result.get()
    }
}
