import AICompressCore

extension ModelFormat {
    /// The native checkpoint format (spec/checkpoint-format.md).
    public static let checkpoint = ModelFormat(CheckpointFormat())
}

/// The native checkpoint in the format registry: sniffed by its magic, written as a stream.
struct CheckpointFormat: ModelFormatHandler {
    let id = "ckpt"
    let extensions = [".ckpt"]

    func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool { CheckpointReader.hasMagic(bytes) }

    func read(_ input: InputFile, sideFiles: any SideFileResolver) throws -> FormatReading {
        let (model, info) = try CheckpointReader.read(input.buffer)
        return FormatReading(model: model, formatVersion: "\(info.majorVersion).\(info.minorVersion)", fileCRC32: info.fileCRC32)
    }

    func makeWriter(_ request: WriteRequest) throws -> any FormatWriter { try CheckpointFileWriter(request) }

    /// The checkpoint stores every encoding as it is (sparse bitmask, quantized payload).
    func storedBytes(of tensor: Tensor, options: ModelWriteOptions) -> Int { tensor.storedBytes }
}

/// A checkpoint being written to a file, tensor by tensor (the format is one sequential pass).
final class CheckpointFileWriter: FormatWriter {
    private let file: OutputFile
    private var writer: CheckpointWriter<OutputFile>

    /// Creates the file and writes the header.
    init(_ request: WriteRequest) throws {
        file = try OutputFile(path: request.path, durable: request.options.durable)
        file.onWrite = request.progress
        do { writer = try CheckpointWriter(sink: file) } catch {
            file.abort()
            throw error
        }
    }

    var streams: Bool { true }

    func append(_ tensor: Tensor, releasing input: TensorData?) throws {
        try writer.append(tensor)
        input?.dropPages()  // written: a mapped input need not stay resident
    }

    func finish(metadata: [String: String], graph: Graph?) throws {
        _ = try writer.finish(metadata: metadata, graph: graph)
    }

    func commit() throws { try file.commit() }

    func abort() { file.abort() }
}
