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
/// With a shard size, a model larger than one shard is written as llama.cpp's split layout
/// (`GGUFSplit`), every shard committed together (the single output is then not made).
final class GGUFFileWriter: FormatWriter {
    private let file: OutputFile
    private let request: WriteRequest
    private let shardFiles = OutputFiles()
    private var sharded = false
    private var entries: [(name: String, type: GGMLType, shape: [Int])] = []
    private var spool: Int32 = -1
    private var spooled = 0
    private let spoolDirectory: String

    init(_ request: WriteRequest) throws {
        file = try OutputFile(path: request.path, durable: request.options.durable)
        file.onWrite = request.progress
        self.request = request
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
        let buffer = try mappedSpool()
        let shards = request.options.shardSize.map { max in
            GGUFSplit.plan(entries.map { $0.type.byteCount(elements: $0.shape.reduce(1, *)) ?? 0 }, maxBytes: max)
        } ?? [entries.indices]
        guard shards.count > 1 else {
            var sink = file
            _ = try writeFile(pairs, entries[...], from: buffer, at: 0, to: &sink, permute: permute)
            return
        }
        let path = request.path
        guard path != "-" else { throw GGUFError.unrepresentable("a split GGUF model needs a file name, not standard output") }
        let prefix = GGUFSplit.prefix(ofOutput: path)
        let names = shards.indices.map { GGUFSplit.name(prefix: prefix, number: $0, count: shards.count) }
        for name in names { try ModelIO.checkNotInput(name, request.refusing) }
        file.abort()
        sharded = true
        var at = 0, before = 0
        for (k, range) in shards.enumerated() {
            let out = try shardFiles.create(names[k], durable: request.options.durable)
            if let progress = request.progress {
                let base = before
                out.onWrite = { progress(base + $0) }
            }
            var sink = out
            let shardPairs = try GGUFSplit.pairs(model: pairs, number: k, count: shards.count, tensors: entries.count)
            at = try writeFile(shardPairs, entries[range], from: buffer, at: at, to: &sink, permute: permute)
            before += out.bytesWritten
        }
    }

    /// Writes one file of `tensors`, whose bytes follow one another in `buffer` from `at`.
    /// - Returns: where the next tensor's bytes begin.
    private func writeFile(_ pairs: [GGUFKeyValue], _ tensors: ArraySlice<(name: String, type: GGMLType, shape: [Int])>,
                       from buffer: ByteBuffer, at start: Int, to sink: inout OutputFile,
                       permute: [String: Int]) throws -> Int {
        var writer = try GGUFWriter(metadata: pairs, tensors: Array(tensors))
        try writer.begin(&sink)
        var at = start
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
        return at
    }

    func commit() throws { if sharded { try shardFiles.commit() } else { try file.commit() } }

    func abort() {
        file.abort()
        shardFiles.abort()
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
