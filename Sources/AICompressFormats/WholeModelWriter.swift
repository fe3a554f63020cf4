import AICompressCore

/// The writer of a format that needs every tensor before its first byte (ONNX: protobuf sizes;
/// safetensors: the header). It still takes tensors one at a time without holding them in
/// memory: a tensor that is a view of a mapped file (an untouched input tensor) is kept as that
/// view, and any other (a pass's result) is parked in a `SpillFile` beside the output and kept
/// as a view of it. At `finish` the format's `write` gets the whole model, made of file views
/// only, and creates its files through `OutputFiles`; the bytes then go file to file in the
/// kernel (`OutputFile.write(_: TensorData)`). The output is the format writer's own, byte for
/// byte, whatever order or memory the tensors came in.
final class WholeModelWriter: FormatWriter {
    /// A tensor received: as it came (a file view) or parked at `offset` in the spill file.
    private enum Held {
        case view(Tensor)
        case spilled(Tensor, offset: Int, count: Int, crc: UInt32?)
    }
    private var held: [Held] = []
    private var names = Set<String>()
    private let outputs = OutputFiles()
    private let path: String
    private var spill: SpillFile?
    private let storedForm: (Tensor) throws -> Tensor
    private let write: (Model, OutputFiles) throws -> Void

    /// A writer for the output at `path` whose `write` creates and fills its files; `commit` then
    /// moves them into place, in the order it created them.
    /// - Parameter storedForm: the form the format stores a tensor in, when that is larger than
    ///   what it was handed (a sparse tensor stored dense), applied as each tensor arrives so
    ///   that `write` has nothing to expand in memory. It must be what `write` would do.
    init(path: String, storedForm: @escaping (Tensor) throws -> Tensor = { $0 },
         write: @escaping (Model, OutputFiles) throws -> Void) {
        self.path = path
        self.storedForm = storedForm
        self.write = write
    }

    /// Tensors are taken as they arrive (each costs no memory once taken).
    var streams: Bool { true }

    func append(_ tensor: Tensor, releasing input: TensorData?) throws {
        // Refused here, as `Model.append` would refuse them at `finish`, before any spilling.
        guard !tensor.name.isEmpty else { throw ModelError.emptyTensorName }
        guard names.insert(tensor.name).inserted else { throw ModelError.duplicateTensorName(tensor.name) }
        let t = try storedForm(tensor)
        if t.data.buffer.fileDescriptor != nil || t.data.count == 0 {
            held.append(.view(t))
        } else {
            if spill == nil { spill = try SpillFile(beside: path) }
            let offset = try spill!.append(t.data)
            var placeholder = t
            placeholder.data = TensorData(bytes: [])  // the heap bytes go; the file keeps them
            held.append(.spilled(placeholder, offset: offset, count: t.data.count, crc: t.data.knownCRC32))
        }
        input?.dropPages()
    }

    func finish(metadata: [String: String], graph: Graph?) throws {
        let mapped = try spill?.map()
        var model = Model()
        for h in held {
            switch h {
            case .view(let t): try model.append(t)
            case .spilled(var t, let offset, let count, let crc):
                guard let mapped, let data = TensorData(buffer: mapped, offset: offset, count: count, knownCRC32: crc) else {
                    throw FileError.readFailed(path: path, errno: 5)  // EIO: the scratch file is short
                }
                t.data = data
                try model.append(t)
            }
        }
        held = []
        spill = nil  // the mapping keeps the scratch file open until the model is written
        model.metadata = metadata
        model.graph = graph
        try write(model, outputs)
    }

    func commit() throws { try outputs.commit() }

    func abort() {
        outputs.abort()
        held = []
        spill = nil
    }
}
