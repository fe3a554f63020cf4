import AICompressCore

/// Reads GGUF v2 and v3 files (ggml docs/gguf.md) from a byte buffer, without copying tensor
/// data. Every count, length, dimension and offset from the file is checked against the bytes
/// that remain and against the named limits of `GGUFLimits` before anything is allocated.
public enum GGUFReader {
    /// The magic "GGUF" as a little-endian u32.
    public static let magic: UInt32 = 0x4655_4747

    /// Parses `buffer`.
    /// - Throws: `GGUFError`, one case per check, naming the key or tensor and the offset.
    public static func read(_ buffer: ByteBuffer) throws(GGUFError) -> GGUFFile {
        let bytes = buffer.bytes
        var c = GGUFCursor(bytes)
        let m = try c.u32("magic")
        guard m == magic else { throw .badMagic(m) }
        let version = try c.u32("version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCountAt = c.offset
        let tensorCount = try c.u64("tensor count")
        let kvCountAt = c.offset
        let kvCount = try c.u64("metadata count")
        // The smallest tensor entry: 8 + 1 (name) + 4 (n_dims) + 4 (type) + 8 (offset); the
        // smallest pair: 8 + 1 (key) + 4 (type) + 1 (value).
        try checkCount("tensor", tensorCount, minimumBytes: 25, at: tensorCountAt, &c)
        try checkCount("metadata", kvCount, minimumBytes: 14, at: kvCountAt, &c)

        let metadata = try readPairs(Int(kvCount), &c)
        let alignment = try alignment(metadata)

        var infos = [GGUFTensorInfo]()
        infos.reserveCapacity(Int(tensorCount))
        var names = Set<String>()
        for i in 0..<Int(tensorCount) {
            let at = c.offset
            let info = try readTensorInfo(i, &c)
            guard names.insert(info.name).inserted else { throw .duplicateTensorName(info.name, offset: at) }
            infos.append(info)
        }
        let (padded, over) = c.offset.addingReportingOverflow((alignment - c.offset % alignment) % alignment)
        let dataOffset = over ? Int.max : padded
        if !infos.isEmpty { try c.seek(dataOffset, "padding before the data section") }

        let tensors = try placeTensors(infos, dataOffset: dataOffset, alignment: alignment, buffer: buffer)
        return GGUFFile(version: version, metadata: metadata, tensors: tensors, alignment: alignment,
                        dataOffset: dataOffset, buffer: buffer)
    }

    /// Reads `count` metadata pairs (already checked against the remaining bytes).
    static func readPairs(_ count: Int, _ c: inout GGUFCursor) throws(GGUFError) -> [GGUFKeyValue] {
        var metadata = [GGUFKeyValue]()
        metadata.reserveCapacity(count)
        var keys = Set<String>()
        for i in 0..<count {
            let at = c.offset
            let keyBytes = try c.string("metadata key \(i)")
            guard !keyBytes.isEmpty else { throw .emptyKey(index: i, offset: at) }
            guard let key = String(validating: keyBytes, as: UTF8.self) else { throw .keyNotUTF8(offset: at) }
            guard keys.insert(key).inserted else { throw .duplicateKey(key, offset: at) }
            let typeAt = c.offset
            let raw = try c.u32("type of '\(key)'")
            guard let type = GGUFValueType(rawValue: raw) else { throw .invalidValueType(key: key, type: raw, offset: typeAt) }
            metadata.append(GGUFKeyValue(key, try readValue(type, key: key, depth: 0, &c)))
        }
        return metadata
    }

    /// Decodes metadata encoded by `GGUFWriter.encodeMetadata` (a u64 count, then the pairs as
    /// a GGUF file stores them), with the same checks as a file's; offsets are in `bytes`.
    /// - Throws: `GGUFError`, also `.countExceedsFile` for bytes after the last pair.
    public static func decodeMetadata(_ bytes: UnsafeRawBufferPointer) throws(GGUFError) -> [GGUFKeyValue] {
        var c = GGUFCursor(bytes)
        let count = try c.u64("metadata count")
        try checkCount("metadata", count, minimumBytes: 14, at: 0, &c)
        let pairs = try readPairs(Int(count), &c)
        guard c.remaining == 0 else { throw .countExceedsFile(what: "metadata", count: count, offset: 0, remaining: c.remaining) }
        return pairs
    }

    static func checkCount(_ what: String, _ count: UInt64, minimumBytes: UInt64, at: Int, _ c: inout GGUFCursor) throws(GGUFError) {
        let (need, over) = count.multipliedReportingOverflow(by: minimumBytes)
        guard !over, need <= UInt64(c.remaining) else {
            throw .countExceedsFile(what: what, count: count, offset: at, remaining: c.remaining)
        }
    }

    static func readValue(_ type: GGUFValueType, key: String, depth: Int, _ c: inout GGUFCursor) throws(GGUFError) -> GGUFValue {
        switch type {
        case .string:
            return .string(GGUFString(bytes: try c.string("string value of '\(key)'")))
        case .array:
            return .array(try readArray(key: key, depth: depth + 1, &c))
        default:
            let at = c.offset
            let size = UInt64(type.fixedSize ?? 1)
            let raw = try c.slice(size, "\(type) value of '\(key)'")
            if type == .bool, raw[0] > 1 { throw .invalidBool(key: key, value: raw[0], offset: at) }
            return GGUFEncoding.scalar(type, raw)
        }
    }

    static func readArray(key: String, depth: Int, _ c: inout GGUFCursor) throws(GGUFError) -> GGUFArray {
        let at = c.offset
        guard depth <= GGUFLimits.maxArrayDepth else { throw .arrayTooDeep(key: key, offset: at) }
        let raw = try c.u32("array element type of '\(key)'")
        guard let elementType = GGUFValueType(rawValue: raw) else { throw .invalidValueType(key: key, type: raw, offset: at) }
        let countAt = c.offset
        let count = try c.u64("array length of '\(key)'")
        guard count <= GGUFLimits.maxArrayElements else { throw .arrayTooLong(key: key, count: count, offset: countAt) }
        try checkCount("array '\(key)' element", count, minimumBytes: UInt64(elementType.minimumSize), at: countAt, &c)
        let n = Int(count)
        switch elementType {
        case .string:
            var strings = [GGUFString]()
            strings.reserveCapacity(n)
            for i in 0..<n { strings.append(GGUFString(bytes: try c.string("element \(i) of '\(key)'"))) }
            return GGUFArray(elementType: .string, count: n, storage: .strings(strings))
        case .array:
            var inner = [GGUFArray]()
            inner.reserveCapacity(n)
            for _ in 0..<n { inner.append(try readArray(key: key, depth: depth + 1, &c)) }
            return GGUFArray(elementType: .array, count: n, storage: .arrays(inner))
        default:
            let start = c.offset
            let raw = try c.slice(count * UInt64(elementType.fixedSize ?? 1), "elements of '\(key)'")
            if elementType == .bool, let bad = raw.firstIndex(where: { $0 > 1 }) {
                throw .invalidBool(key: key, value: raw[bad], offset: start + bad)
            }
            return GGUFArray(elementType: elementType, count: n, storage: .scalars(Array(raw)))
        }
    }

    /// `general.alignment`: a u32, non-zero multiple of 8, 32 when absent.
    static func alignment(_ metadata: [GGUFKeyValue]) throws(GGUFError) -> Int {
        guard let value = metadata.first(where: { $0.key == "general.alignment" })?.value else { return GGUFLimits.defaultAlignment }
        guard case .uint32(let a) = value else { throw .alignmentNotU32(value.type) }
        guard a != 0, a % 8 == 0 else { throw .invalidAlignment(a) }
        return Int(a)
    }

    static func readTensorInfo(_ index: Int, _ c: inout GGUFCursor) throws(GGUFError) -> GGUFTensorInfo {
        let at = c.offset
        let nameBytes = try c.string("tensor \(index) name")
        guard !nameBytes.isEmpty else { throw .emptyTensorName(index: index, offset: at) }
        guard let name = String(validating: nameBytes, as: UTF8.self) else { throw .tensorNameNotUTF8(offset: at) }
        guard nameBytes.count <= GGUFLimits.maxTensorNameBytes else {
            throw .tensorNameTooLong(name, length: nameBytes.count, offset: at)
        }
        let dimsAt = c.offset
        let nDims = try c.u32("dimension count of '\(name)'")
        guard nDims <= GGUFLimits.maxDimensions else { throw .tooManyDimensions(tensor: name, count: nDims, offset: dimsAt) }
        var dims = [UInt64]()
        var elements: Int64 = 1, overflow = false
        for _ in 0..<Int(nDims) {
            let dimAt = c.offset
            let d = try c.u64("dimension of '\(name)'")
            guard let di = Int64(exactly: d) else { throw .dimensionTooLarge(tensor: name, dimension: d, offset: dimAt) }
            let (p, o) = elements.multipliedReportingOverflow(by: di)
            overflow = overflow || o
            elements = p
            dims.append(d)
        }
        guard !overflow else { throw .shapeOverflow(tensor: name, dims: dims) }
        let typeAt = c.offset
        let rawType = try c.u32("type of '\(name)'")
        let type: GGMLType
        do { type = try GGMLType(id: rawType) } catch { throw .tensorType(tensor: name, error, offset: typeAt) }
        let rowLength = dims.first ?? 1
        guard rowLength % UInt64(type.blockSize) == 0 else { throw .rowNotWholeBlocks(tensor: name, rowLength: rowLength, type: type) }
        let offset = try c.u64("data offset of '\(name)'")
        guard let info = GGUFTensorInfo(name: name, type: type, dims: dims, offset: offset) else {
            throw .shapeOverflow(tensor: name, dims: dims)
        }
        return info
    }

    /// Checks each tensor's offset (aligned, inside the file, no overlap) and makes its view.
    static func placeTensors(_ infos: [GGUFTensorInfo], dataOffset: Int, alignment: Int,
                             buffer: ByteBuffer) throws(GGUFError) -> [GGUFTensor] {
        let fileSize = UInt64(buffer.count)
        var tensors = [GGUFTensor]()
        tensors.reserveCapacity(infos.count)
        for info in infos {
            guard info.offset % UInt64(alignment) == 0 else {
                throw .misalignedOffset(tensor: info.name, offset: info.offset, alignment: alignment)
            }
            let (begin, o1) = UInt64(dataOffset).addingReportingOverflow(info.offset)
            let (end, o2) = begin.addingReportingOverflow(UInt64(info.byteCount))
            guard !o1, !o2, end <= fileSize,
                  let view = TensorData(buffer: buffer, offset: Int(begin), count: info.byteCount) else {
                // On overflow both ends are reported as UInt64.max rather than wrapped values.
                throw .tensorPastEnd(tensor: info.name, begin: o1 ? .max : begin, end: o1 || o2 ? .max : end, fileSize: buffer.count)
            }
            tensors.append(GGUFTensor(info: info, data: view))
        }
        let byOffset = tensors.filter { $0.info.byteCount > 0 }.sorted { $0.info.offset < $1.info.offset }
        for (prev, next) in zip(byOffset, byOffset.dropFirst()) {
            let prevEnd = prev.info.offset + UInt64(prev.info.byteCount)
            if next.info.offset < prevEnd {
                throw .tensorsOverlap(tensor: next.info.name, other: prev.info.name,
                                      begin: UInt64(dataOffset) + next.info.offset, otherEnd: UInt64(dataOffset) + prevEnd)
            }
        }
        return tensors
    }
}
