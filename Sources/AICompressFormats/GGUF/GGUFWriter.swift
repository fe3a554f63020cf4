import AICompressCore

/// Writes GGUF files deterministically and as a stream: the header, metadata and tensor index
/// come first, with every tensor's offset computed from its type and shape, then each tensor's
/// already-encoded bytes in index order, each padded to the alignment (as gguf-py and
/// llama.cpp's gguf.cpp lay files out).
///
/// ```swift
/// var writer = try GGUFWriter(metadata: kv, tensors: [(name: "w", type: .q8_0, shape: [4, 32])])
/// var sink = MemorySink()
/// try writer.begin(&sink)
/// try writer.append(bytes, to: &sink)
/// try writer.finish()
/// ```
public struct GGUFWriter {
    /// The index entries, with their offsets.
    public let tensors: [GGUFTensorInfo]
    /// The data alignment (from `general.alignment`, 32 when absent).
    public let alignment: Int
    /// Everything before the data section, padding included.
    public let header: [UInt8]
    /// Bytes of the whole file.
    public let totalBytes: Int
    private var next = 0
    private var started = false

    /// Lays out a file.
    /// - Parameters:
    ///   - version: 3 (or 2, the same layout).
    ///   - metadata: pairs in the order to write them; `general.alignment`, when present, must be
    ///     a u32 power of two, at least 8.
    ///   - tensors: name, type and row-major shape of each tensor, in the order to write them.
    /// - Throws: `GGUFError` when a key, name, shape or the alignment cannot be written.
    public init(version: UInt32 = 3, metadata: [GGUFKeyValue], tensors: [(name: String, type: GGMLType, shape: [Int])]) throws(GGUFError) {
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        var keys = Set<String>()
        for (i, kv) in metadata.enumerated() {
            guard !kv.key.isEmpty else { throw .emptyKey(index: i, offset: 0) }
            guard keys.insert(kv.key).inserted else { throw .duplicateKey(kv.key, offset: 0) }
        }
        let alignment = try GGUFReader.alignment(metadata)
        // The reader accepts any multiple of 8 (gguf.md); llama.cpp loads only powers of two, so
        // the writer makes nothing else.
        guard alignment & (alignment - 1) == 0 else { throw .invalidAlignment(UInt32(alignment)) }
        var infos = [GGUFTensorInfo](), names = Set<String>()
        var offset: UInt64 = 0
        for (i, t) in tensors.enumerated() {
            guard !t.name.isEmpty else { throw .emptyTensorName(index: i, offset: 0) }
            guard t.name.utf8.count <= GGUFLimits.maxTensorNameBytes else {
                throw .tensorNameTooLong(t.name, length: t.name.utf8.count, offset: 0)
            }
            guard names.insert(t.name).inserted else { throw .duplicateTensorName(t.name, offset: 0) }
            guard t.shape.count <= Int(GGUFLimits.maxDimensions) else {
                throw .tooManyDimensions(tensor: t.name, count: UInt32(t.shape.count), offset: 0)
            }
            guard let info = GGUFTensorInfo(name: t.name, type: t.type, shape: t.shape, offset: offset) else {
                if let row = t.shape.last, row >= 0, row % t.type.blockSize != 0 {
                    throw .rowNotWholeBlocks(tensor: t.name, rowLength: UInt64(row), type: t.type)
                }
                throw .shapeOverflow(tensor: t.name, dims: t.shape.reversed().map { UInt64(bitPattern: Int64($0)) })
            }
            infos.append(info)
            let (padded, over) = UInt64(info.byteCount).addingReportingOverflow(UInt64(GGUFWriter.padding(info.byteCount, alignment)))
            let (nextOffset, over2) = offset.addingReportingOverflow(padded)
            guard !over, !over2, nextOffset <= UInt64(Int.max) else { throw .shapeOverflow(tensor: t.name, dims: info.dims) }
            offset = nextOffset
        }
        var out = [UInt8]()
        GGUFEncoding.appendLE(GGUFReader.magic, to: &out)
        GGUFEncoding.appendLE(version, to: &out)
        GGUFEncoding.appendLE(UInt64(infos.count), to: &out)
        GGUFEncoding.appendLE(UInt64(metadata.count), to: &out)
        GGUFWriter.appendPairs(metadata, to: &out)
        for info in infos {
            GGUFEncoding.appendString(GGUFString(info.name), to: &out)
            GGUFEncoding.appendLE(UInt32(info.dims.count), to: &out)
            for d in info.dims { GGUFEncoding.appendLE(d, to: &out) }
            GGUFEncoding.appendLE(info.type.rawValue, to: &out)
            GGUFEncoding.appendLE(info.offset, to: &out)
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: GGUFWriter.padding(out.count, alignment)))
        let (total, over) = out.count.addingReportingOverflow(Int(offset))
        guard !over else { throw .unrepresentable("the file would exceed \(Int.max) bytes") }
        self.tensors = infos
        self.alignment = alignment
        self.header = out
        self.totalBytes = total
    }

    static func appendPairs(_ metadata: [GGUFKeyValue], to out: inout [UInt8]) {
        for kv in metadata {
            GGUFEncoding.appendString(GGUFString(kv.key), to: &out)
            GGUFEncoding.appendLE(kv.value.type.rawValue, to: &out)
            GGUFEncoding.appendValue(kv.value, to: &out)
        }
    }

    /// Encodes metadata pairs, typed and in order, as a u64 count followed by the pairs as a
    /// GGUF file stores them: a lossless form to carry GGUF metadata through other formats
    /// (`GGUFReader.decodeMetadata` reads it back).
    public static func encodeMetadata(_ metadata: [GGUFKeyValue]) -> [UInt8] {
        var out = [UInt8]()
        GGUFEncoding.appendLE(UInt64(metadata.count), to: &out)
        appendPairs(metadata, to: &out)
        return out
    }

    /// Zero bytes that bring `count` to a multiple of `alignment`.
    static func padding(_ count: Int, _ alignment: Int) -> Int { (alignment - count % alignment) % alignment }

    /// Writes the header, metadata and index.
    public mutating func begin<S: ByteSink>(_ sink: inout S) throws {
        guard !started else { throw GGUFError.writeOrder("begin called twice") }
        started = true
        try sink.write(header)
    }

    /// Writes the next tensor's bytes (in index order) and its padding.
    /// - Throws: `GGUFError.writeOrder` (before `begin`, or past the last tensor),
    ///   `.dataLengthMismatch`, or the sink's error.
    public mutating func append<S: ByteSink>(_ data: TensorData, to sink: inout S) throws {
        guard started else { throw GGUFError.writeOrder("append before begin") }
        guard next < tensors.count else { throw GGUFError.writeOrder("more tensors than the \(tensors.count) declared") }
        let info = tensors[next]
        guard data.count == info.byteCount else {
            throw GGUFError.dataLengthMismatch(tensor: info.name, expected: info.byteCount, actual: data.count)
        }
        try data.withUnsafeBytes { try sink.write($0) }
        try sink.write([UInt8](repeating: 0, count: GGUFWriter.padding(info.byteCount, alignment)))
        next += 1
    }

    /// Checks that every declared tensor was written.
    /// - Throws: `GGUFError.writeOrder`.
    public func finish() throws(GGUFError) {
        guard started, next == tensors.count else {
            throw .writeOrder("\(next) of \(tensors.count) tensors written")
        }
    }

    /// Writes a whole file: metadata, then the tensors with their bytes, in order.
    public static func write<S: ByteSink>(version: UInt32 = 3, metadata: [GGUFKeyValue],
                                          tensors: [(name: String, type: GGMLType, shape: [Int], data: TensorData)],
                                          to sink: inout S) throws {
        var w = try GGUFWriter(version: version, metadata: metadata, tensors: tensors.map { ($0.name, $0.type, $0.shape) })
        try w.begin(&sink)
        for t in tensors { try w.append(t.data, to: &sink) }
        try w.finish()
    }

    /// Writes a parsed file back (same version, metadata, tensors and bytes, laid out anew).
    public static func write<S: ByteSink>(_ file: GGUFFile, to sink: inout S) throws {
        try write(version: file.version, metadata: file.metadata,
                  tensors: file.tensors.map { ($0.info.name, $0.info.type, $0.info.shape, $0.data) }, to: &sink)
    }
}
