import AICompressCore

/// Writes checkpoints in one sequential pass (spec §3): header, then each tensor's payload as it
/// arrives, then the index and the footer. Nothing is ever sought back to, so the sink may be a
/// pipe, and a producer can hand over one tensor at a time.
///
/// ```swift
/// var writer = try CheckpointWriter(sink: MemorySink())
/// for tensor in model.tensors { try writer.append(tensor) }
/// let sink = try writer.finish(metadata: model.metadata, graph: model.graph)
/// ```
public struct CheckpointWriter<Sink: ByteSink> {
    typealias L = CheckpointLayout
    private var sink: Sink
    private var position = 0
    private var index = IndexWriter()
    private var tensorCount = 0
    private var names = Set<String>()
    private static var zeros: [UInt8] { [UInt8](repeating: 0, count: CheckpointLayout.alignment) }

    /// Starts a checkpoint by writing its header.
    public init(sink: Sink) throws {
        self.sink = sink
        var header = L.magic
        withUnsafeBytes(of: L.majorVersion.littleEndian) { header.append(contentsOf: $0) }
        withUnsafeBytes(of: L.minorVersion.littleEndian) { header.append(contentsOf: $0) }
        header.append(contentsOf: [UInt8](repeating: 0, count: L.headerSize - header.count))
        try self.sink.write(header)
        position = L.headerSize
    }

    /// Writes one tensor's payload and records its index entry.
    /// - Throws: `CheckpointError.unrepresentable` for names or shapes past the limits, or the
    ///   sink's error.
    public mutating func append(_ t: Tensor) throws {
        let nameBytes = t.name.utf8.count
        guard nameBytes > 0, nameBytes <= L.maxNameBytes else {
            throw CheckpointError.unrepresentable("tensor name '\(t.name.prefix(64))' must be 1 to \(L.maxNameBytes) bytes")
        }
        guard names.insert(t.name).inserted else { throw CheckpointError.unrepresentable("duplicate tensor name '\(t.name)'") }
        guard tensorCount < L.maxTensors else { throw CheckpointError.unrepresentable("more than \(L.maxTensors) tensors") }
        guard t.shape.rank <= L.maxRank else { throw CheckpointError.unrepresentable("tensor '\(t.name)' has rank \(t.shape.rank)") }
        guard t.shape.dims.allSatisfy({ UInt64($0) <= L.maxDim }) else {
            throw CheckpointError.unrepresentable("tensor '\(t.name)' has a dimension over 2^62")
        }
        let start = L.align(position)!
        if start > position { try sink.write(Array(Self.zeros[0..<(start - position)])) }
        let crc = t.data.knownCRC32 ?? t.data.withUnsafeBytes { CRC32.checksums([$0])[0] }
        try sink.write(t.data)
        position = start + t.data.count

        try index.string(t.name, "tensor name", limit: L.maxNameBytes)
        index.u8(t.dtype.rawValue)
        index.u8(t.encoding.code)
        index.u8(UInt8(t.shape.rank))
        index.u8(0)
        for d in t.shape.dims { index.u64(UInt64(d)) }
        index.u64(UInt64(start))
        index.u64(UInt64(t.data.count))
        index.u32(crc)
        try index.bytesField(CheckpointEncoding.params(t.encoding), "encoding parameters", limit: L.maxEncodingParamBytes)
        tensorCount += 1
    }

    /// Writes the index and footer and returns the sink. Metadata is written in key order.
    public mutating func finish(metadata: [String: String], graph: Graph?) throws -> Sink {
        var head = IndexWriter()
        head.u64(UInt64(tensorCount))
        var tail = IndexWriter()
        guard metadata.count <= L.maxMetadataEntries else {
            throw CheckpointError.unrepresentable("\(metadata.count) metadata entries, over \(L.maxMetadataEntries)")
        }
        tail.u64(UInt64(metadata.count))
        for (key, value) in metadata.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            guard !key.isEmpty else { throw CheckpointError.unrepresentable("empty metadata key") }
            try tail.string(key, "metadata key", limit: L.maxNameBytes)
            try tail.string(value, "metadata value of '\(key)'", limit: L.maxStringBytes)
        }
        if let graph {
            tail.u8(1)
            try GraphCoding.encode(graph, into: &tail)
        } else {
            tail.u8(0)
        }
        let indexLength = head.bytes.count + index.bytes.count + tail.bytes.count
        guard indexLength <= L.maxIndexBytes else {
            throw CheckpointError.unrepresentable("index of \(indexLength) bytes, over \(L.maxIndexBytes)")
        }
        let indexOffset = L.align(position)!
        if indexOffset > position { try sink.write(Array(Self.zeros[0..<(indexOffset - position)])) }
        var crc: UInt32 = 0
        for part in [head.bytes, index.bytes, tail.bytes] {
            crc = part.withUnsafeBytes { CRC32.checksum($0, initial: crc) }
            try sink.write(part)
        }
        var footer = IndexWriter()
        footer.u64(UInt64(indexOffset))
        footer.u64(UInt64(indexLength))
        footer.u32(crc)
        footer.u32(0)
        footer.bytes.append(contentsOf: L.endMagic)
        try sink.write(footer.bytes)
        position = indexOffset + indexLength + L.footerSize
        return sink
    }

    /// Writes a whole model.
    public static func write(_ model: Model, to sink: Sink) throws -> Sink {
        var w = try CheckpointWriter(sink: sink)
        for t in model.tensors {
            try w.append(t)
            t.data.dropPages()  // written: a mapped input need not stay resident
        }
        return try w.finish(metadata: model.metadata, graph: model.graph)
    }
}
