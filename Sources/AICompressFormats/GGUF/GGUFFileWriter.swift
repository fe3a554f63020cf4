#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AICompressCore

/// A GGUF file being written tensor by tensor. GGUF puts its index and metadata before the data
/// and the metadata arrives last (`finish`), so each tensor's bytes go to an unlinked spool file
/// as they arrive (memory stays at one tensor); `finish` writes the header, computed from the
/// recorded names, types and shapes, into the atomic output and copies the spool after it.
final class GGUFFileWriter: FormatWriter {
    private let file: OutputFile
    private var entries: [(name: String, type: GGMLType, shape: [Int])] = []
    private var spool: Int32 = -1
    private var spooled = 0
    private let spoolDirectory: String

    init(_ request: WriteRequest) throws {
        file = try OutputFile(path: request.path, durable: request.options.durable)
        file.onWrite = request.progress
        let path = request.path
        if path != "-", let slash = path.lastIndex(of: "/") {
            spoolDirectory = String(path[..<slash].isEmpty ? "/" : path[..<slash])
        } else if path != "-" {
            spoolDirectory = "."
        } else {
            spoolDirectory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        }
    }

    deinit { if spool >= 0 { close(spool) } }

    var streams: Bool { true }

    func append(_ tensor: Tensor, releasing input: TensorData?) throws {
        var t = tensor
        if case .sparse = t.encoding { t = try t.densified() }
        let type = try GGUFFormat.ggmlType(of: t)
        guard t.shape.rank <= Int(GGUFLimits.maxDimensions) else {
            throw GGUFError.tooManyDimensions(tensor: t.name, count: UInt32(t.shape.rank), offset: 0)
        }
        entries.append((t.name, type, t.shape.dims))
        try t.data.withUnsafeBytes { try writeSpool($0) }
        input?.dropPages()
    }

    func finish(metadata: [String: String], graph: Graph?) throws {
        // A converted Hugging Face checkpoint names the q/k tensors whose rows are permuted here.
        let (permute, metadata) = try HFLlamaPermutation.take(from: metadata)
        let pairs = try GGUFModelMetadata.filePairs(metadata, types: entries.map(\.type))
        var writer = try GGUFWriter(metadata: pairs, tensors: entries)
        var sink = file
        try writer.begin(&sink)
        let buffer = try mappedSpool()
        var at = 0
        for info in writer.tensors {
            guard let data = TensorData(buffer: buffer, offset: at, count: info.byteCount) else {
                throw GGUFError.writeOrder("spool holds \(buffer.count) bytes, fewer than the tensors need")
            }
            if let heads = permute[info.name], let rows = info.shape.first {
                try writer.append(try HFLlamaPermutation.permuted(data, tensor: info.name, rows: rows, heads: heads), to: &sink)
            } else {
                try writer.append(data, to: &sink)
            }
            data.dropPages()
            at += info.byteCount
        }
        try writer.finish()
    }

    func commit() throws { try file.commit() }

    func abort() {
        file.abort()
        if spool >= 0 { close(spool) }
        spool = -1
    }

    /// Appends to the spool, creating it (unlinked at once, so nothing is left behind) first.
    private func writeSpool(_ bytes: UnsafeRawBufferPointer) throws {
        if spool < 0 {
            var template = Array((spoolDirectory + "/.aicompress-gguf-XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw FileError.cannotCreate(path: spoolDirectory, errno: errno) }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            spool = fd
        }
        var done = 0
        while done < bytes.count {
            let n = write(spool, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.writeFailed(path: spoolDirectory, errno: errno)
            }
            done += n
        }
        spooled += bytes.count
    }

    private func mappedSpool() throws -> ByteBuffer {
        guard spool >= 0 else { return ByteBuffer(wrapping: nil, count: 0, release: nil) }
        return try InputFile.map(fd: spool, size: spooled, path: spoolDirectory)
    }
}
