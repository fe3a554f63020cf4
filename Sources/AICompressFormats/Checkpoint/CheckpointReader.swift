import AICompressCore

/// Facts about a checkpoint file that are not part of the model.
public struct CheckpointInfo: Sendable, Equatable {
    public var majorVersion: UInt16
    public var minorVersion: UInt16
    public var fileSize: Int
    public var indexBytes: Int
    /// CRC-32 of the whole file, derived from the verified parts without another pass.
    public var fileCRC32: UInt32
}

/// Reads checkpoints (spec/checkpoint-format.md) from memory: every check of spec §8, then
/// zero-copy tensor views into the buffer.
public enum CheckpointReader {
    typealias L = CheckpointLayout

    /// True when `bytes` start with the checkpoint magic.
    public static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= L.magic.count && bytes.prefix(L.magic.count).elementsEqual(L.magic)
    }

    /// Parses and verifies a whole checkpoint. The tensors of the returned model view `buffer`.
    /// - Throws: `CheckpointError`, naming the tensor and the offset where there is one.
    /// - Parameter verifyChecksums: false skips the CRC-32 comparisons (index and payloads);
    ///   only for fuzzing, so that mutations reach the parser behind the checksums.
    public static func read(_ buffer: ByteBuffer, verifyChecksums: Bool = true) throws(CheckpointError) -> (model: Model, info: CheckpointInfo) {
        let file = buffer.bytes
        let size = file.count
        guard size >= L.headerSize + L.footerSize else {
            if size >= L.magic.count && !hasMagic(file) { throw .badMagic }
            throw .truncated(fileSize: size)
        }
        // Header.
        guard hasMagic(file) else { throw .badMagic }
        let major = UInt16(littleEndian: file.loadUnaligned(fromByteOffset: L.majorVersionOffset, as: UInt16.self))
        let minor = UInt16(littleEndian: file.loadUnaligned(fromByteOffset: L.minorVersionOffset, as: UInt16.self))
        guard major == L.majorVersion else { throw .unsupportedVersion(major: major, minor: minor) }
        let flags = UInt32(littleEndian: file.loadUnaligned(fromByteOffset: L.flagsOffset, as: UInt32.self))
        guard flags == 0 else { throw .unknownFlags(flags) }
        if let i = (L.headerReservedOffset..<L.headerSize).first(where: { file[$0] != 0 }) { throw .nonZeroReserved(offset: i) }

        // Footer.
        let footer = size - L.footerSize
        guard file[(footer + L.footerEndMagicOffset)..<size].elementsEqual(L.endMagic) else { throw .badEndMagic }
        let indexOffset = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: footer + L.footerIndexOffsetOffset, as: UInt64.self))
        let indexLength = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: footer + L.footerIndexLengthOffset, as: UInt64.self))
        let indexCRC = UInt32(littleEndian: file.loadUnaligned(fromByteOffset: footer + L.footerIndexCRCOffset, as: UInt32.self))
        if let i = ((footer + L.footerReservedOffset)..<(footer + L.footerEndMagicOffset)).first(where: { file[$0] != 0 }) { throw .nonZeroReserved(offset: i) }
        guard indexLength <= UInt64(L.maxIndexBytes) else { throw .indexTooLarge(length: indexLength) }
        let (indexEnd, overflow) = indexOffset.addingReportingOverflow(indexLength)
        guard !overflow, indexEnd == UInt64(footer), indexOffset >= UInt64(L.headerSize),
              indexOffset % UInt64(L.alignment) == 0 else {
            throw .indexOutOfRange(offset: indexOffset, length: indexLength, fileSize: size)
        }
        let indexStart = Int(indexOffset)
        let indexBytes = UnsafeRawBufferPointer(rebasing: file[indexStart..<footer])
        let computed = CRC32.checksum(indexBytes)
        guard computed == indexCRC || !verifyChecksums else { throw .indexChecksumMismatch(stored: indexCRC, computed: computed) }

        // Index.
        var r = IndexReader(bytes: indexBytes, base: indexStart)
        let entries = try readTensorEntries(&r)
        let metadata = try readMetadata(&r)
        let graphAt = r.offset
        let graph: Graph?
        switch try r.u8("has_graph") {
        case 0: graph = nil
        case 1: graph = try GraphCoding.decode(&r)
        case let f: throw .invalidGraph(reason: "has_graph flag \(f) is neither 0 nor 1", offset: graphAt)
        }
        guard r.remaining == 0 else { throw .indexTrailingBytes(offset: r.offset, count: r.remaining) }

        // Layout (spec §3.2): each payload exactly where the previous one's aligned end puts it.
        var end = L.headerSize
        for e in entries {
            guard e.offset % UInt64(L.alignment) == 0 else { throw .tensorMisaligned(tensor: e.name, offset: e.offset) }
            guard e.offset >= UInt64(end) else { throw .tensorOverlap(tensor: e.name, offset: e.offset, previousEnd: end) }
            let (stop, o) = e.offset.addingReportingOverflow(e.length)
            guard !o, stop <= indexOffset else {
                throw .tensorOutOfRange(tensor: e.name, offset: e.offset, length: e.length, dataEnd: indexStart)
            }
            let expected = L.align(end)!
            guard e.offset == UInt64(expected) else { throw .tensorGap(tensor: e.name, offset: e.offset, expected: expected) }
            try checkPadding(file, from: end, to: expected)
            end = Int(stop)
        }
        guard L.align(end)! == indexStart else { throw .dataSectionGap(lastEnd: end, indexOffset: indexStart) }
        try checkPadding(file, from: end, to: indexStart)

        // Payload checksums, over all cores.
        let ranges = entries.map { UnsafeRawBufferPointer(rebasing: file[Int($0.offset)..<Int($0.offset + $0.length)]) }
        let crcs = CRC32.checksums(ranges, releasing: buffer)  // checked pages need not stay resident
        var model = Model()
        for (i, e) in entries.enumerated() {
            guard crcs[i] == e.crc || !verifyChecksums else {
                throw .checksumMismatch(tensor: e.name, offset: Int(e.offset), stored: e.crc, computed: crcs[i])
            }
            if let sparse = try? SparseLayout(dtype: e.dtype, count: e.shape.elementCount, nonZeros: e.nonZeros ?? -1),
               !sparse.maskIsConsistent(ranges[i]) {
                throw .sparseMaskMismatch(tensor: e.name, offset: Int(e.offset))
            }
            if case .sparseQuantized(let nnz, let q) = e.encoding,
               (try? SparseQuantizedLayout(shape: e.shape, parameters: q, nonZeros: nnz))?.maskIsConsistent(ranges[i]) != true {
                throw .sparseMaskMismatch(tensor: e.name, offset: Int(e.offset))
            }
            guard let data = TensorData(buffer: buffer, offset: Int(e.offset), count: Int(e.length), knownCRC32: e.crc),
                  let tensor = try? Tensor(name: e.name, dtype: e.dtype, shape: e.shape, encoding: e.encoding, data: data) else {
                // Unreachable after the checks above; reported rather than trapped.
                throw .dataLengthMismatch(tensor: e.name, expected: e.expectedLength, actual: e.length, offset: Int(e.offset))
            }
            do { try model.append(tensor) } catch {
                throw .duplicateTensorName(e.name, offset: e.entryOffset)
            }
        }
        model.metadata = metadata
        model.graph = graph
        // Whole-file CRC: header, payloads and the zero padding between them, index, footer.
        var fileCRC = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[0..<L.headerSize]))
        var cursor = L.headerSize
        for (i, e) in entries.enumerated() {
            let start = Int(e.offset)
            fileCRC = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[cursor..<start]), initial: fileCRC)
            fileCRC = CRC32.combine(fileCRC, crcs[i], lengthB: Int(e.length))
            cursor = start + Int(e.length)
        }
        fileCRC = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[cursor..<indexStart]), initial: fileCRC)
        fileCRC = CRC32.combine(fileCRC, indexCRC, lengthB: Int(indexLength))
        fileCRC = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[footer..<size]), initial: fileCRC)
        let info = CheckpointInfo(majorVersion: major, minorVersion: minor, fileSize: size, indexBytes: Int(indexLength),
                                  fileCRC32: fileCRC)
        return (model, info)
    }

    struct Entry {
        var name: String
        var entryOffset: Int
        var dtype: DType
        var shape: Shape
        var encoding: TensorEncoding
        var expectedLength: Int
        var nonZeros: Int? {
            if case .sparse(let n) = encoding { return n }
            return nil
        }
        var offset: UInt64
        var length: UInt64
        var crc: UInt32
    }

    static func checkPadding(_ file: UnsafeRawBufferPointer, from: Int, to: Int) throws(CheckpointError) {
        if let i = (from..<to).first(where: { file[$0] != 0 }) { throw .nonZeroPadding(offset: i) }
    }

    static func readTensorEntries(_ r: inout IndexReader) throws(CheckpointError) -> [Entry] {
        // Smallest entry: 4 (name length) + 1 (name) + 4 + 8 + 8 + 4 + 4 = 33 bytes.
        let count = try r.count("tensor count", wide: true, limit: L.maxTensors, minSize: 33)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var seen = Set<String>()
        for _ in 0..<count {
            let at = r.offset
            let name = try r.string("tensor name", limit: L.maxNameBytes)
            guard !name.isEmpty else { throw .emptyName(what: "tensor name", offset: at) }
            guard seen.insert(name).inserted else { throw .duplicateTensorName(name, offset: at) }
            let dtypeAt = r.offset
            let code = try r.u8("dtype of '\(name)'")
            guard let dtype = DType(rawValue: code) else { throw .unknownDType(tensor: name, code: code, offset: dtypeAt) }
            let encodingAt = r.offset
            let encodingCode = try r.u8("encoding of '\(name)'")
            guard encodingCode <= 4 else {
                throw .unknownEncoding(tensor: name, code: encodingCode, offset: encodingAt)
            }
            let rankAt = r.offset
            let rank = Int(try r.u8("rank of '\(name)'"))
            guard rank <= L.maxRank else {
                throw .limitExceeded(what: "rank of tensor '\(name)'", value: UInt64(rank), limit: UInt64(L.maxRank), offset: rankAt)
            }
            let reservedAt = r.offset
            guard try r.u8("reserved byte") == 0 else { throw .nonZeroReserved(offset: reservedAt) }
            let (_, shape, expected) = try readShape(&r, rank: rank, dtype: dtype, tensor: name, entryOffset: at)
            let offset = try r.u64("data offset of '\(name)'")
            let lengthAt = r.offset
            let length = try r.u64("data length of '\(name)'")
            let crc = try r.u32("CRC-32 of '\(name)'")
            let paramsAt = r.offset
            let params = try r.bytesField("encoding parameters of '\(name)'", limit: L.maxEncodingParamBytes)
            let encoding = try CheckpointEncoding.decode(encodingCode, params: params, tensor: name, dtype: dtype, shape: shape, offset: paramsAt)
            let required = encoding == .dense ? expected : (try? encoding.payloadBytes(dtype: dtype, shape: shape)) ?? -1
            guard required >= 0 else { throw .shapeOverflow(tensor: name, dims: shape.dims.map { UInt64($0) }, offset: at) }
            guard length == UInt64(required) else {
                throw .dataLengthMismatch(tensor: name, expected: required, actual: length, offset: lengthAt)
            }
            entries.append(Entry(name: name, entryOffset: at, dtype: dtype, shape: shape, encoding: encoding,
                                 expectedLength: required, offset: offset, length: length, crc: crc))
        }
        return entries
    }

    /// Reads `rank` dimensions and checks each against MAX_DIM and their product (and the dense
    /// byte size) for overflow.
    static func readShape(
        _ r: inout IndexReader, rank: Int, dtype: DType, tensor: String, entryOffset: Int
    ) throws(CheckpointError) -> (dims: [UInt64], shape: Shape, denseBytes: Int) {
        var dims: [UInt64] = []
        dims.reserveCapacity(rank)
        var product = 1
        var overflow = false
        for _ in 0..<rank {
            let at = r.offset
            let d = try r.u64("dimension of '\(tensor)'")
            guard d <= L.maxDim else {
                throw .limitExceeded(what: "dimension of tensor '\(tensor)'", value: d, limit: L.maxDim, offset: at)
            }
            dims.append(d)
            let (p, o) = product.multipliedReportingOverflow(by: Int(d))
            overflow = overflow || o
            product = p
        }
        guard !overflow, let bytes = dtype.byteCount(elements: product),
              let shape = try? Shape(dims.map { Int($0) }) else {
            throw .shapeOverflow(tensor: tensor, dims: dims, offset: entryOffset)
        }
        return (dims, shape, bytes)
    }

    static func readMetadata(_ r: inout IndexReader) throws(CheckpointError) -> [String: String] {
        let count = try r.count("metadata count", wide: true, limit: L.maxMetadataEntries, minSize: 9)
        var metadata: [String: String] = [:]
        metadata.reserveCapacity(count)
        var previous: String? = nil
        for _ in 0..<count {
            let at = r.offset
            let key = try r.string("metadata key", limit: L.maxNameBytes)
            guard !key.isEmpty else { throw .emptyName(what: "metadata key", offset: at) }
            if let p = previous, !p.utf8.lexicographicallyPrecedes(key.utf8) { throw .metadataKeyOrder(key, offset: at) }
            metadata[key] = try r.string("metadata value of '\(key)'", limit: L.maxStringBytes)
            previous = key
        }
        return metadata
    }
}
