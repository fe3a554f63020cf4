import AICompressCore

/// The writer of a format that needs every tensor before its first byte (ONNX: protobuf sizes;
/// safetensors: the header): it holds the tensors and, at `finish`, hands the whole model to
/// the format's `write`, which creates its files through `OutputFiles`.
final class WholeModelWriter: FormatWriter {
    private var held = Model()
    private let outputs = OutputFiles()
    private let write: (Model, OutputFiles) throws -> Void

    /// A writer whose `write` creates, fills and returns nothing; `commit` then moves the files
    /// it created into place, in the order it created them.
    init(write: @escaping (Model, OutputFiles) throws -> Void) {
        self.write = write
    }

    var streams: Bool { false }

    func append(_ tensor: Tensor, releasing input: TensorData?) throws {
        try held.append(tensor)
    }

    func finish(metadata: [String: String], graph: Graph?) throws {
        held.metadata = metadata
        held.graph = graph
        let model = held
        held = Model()
        try write(model, outputs)
    }

    func commit() throws { try outputs.commit() }

    func abort() {
        outputs.abort()
        held = Model()
    }
}
