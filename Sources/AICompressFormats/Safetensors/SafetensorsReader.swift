import AICompressCore

/// Reads safetensors files with the reference implementation's rules (header cap, UTF-8 JSON,
/// known dtypes, overflow-checked sizes, tensors tiling the buffer exactly) and hands out
/// zero-copy views. Per-tensor CRC-32s are computed once, in parallel, so writers can reuse them
/// and the whole-file CRC-32 comes without another pass.
public enum SafetensorsReader {
    /// True when `bytes` look like safetensors: a little-endian header length that fits in the
    /// file, followed by `{`.
    public static func looksLikeSafetensors(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 9 else { return false }
        let n = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard n >= 2, n <= UInt64(bytes.count - 8) else { return false }
        // The reference reader allows white space before the opening brace.
        let first = bytes[8..<(8 + Int(min(n, 64)))].first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        return first == UInt8(ascii: "{")
    }

    struct Entry {
        let name: String
        let dtype: DType
        let shape: Shape
        let begin: Int
        let end: Int
    }

    /// Parses `buffer` as one safetensors file.
    /// - Returns: the model (tensors in buffer order), and the CRC-32 of the whole file.
    /// - Throws: `SafetensorsError`.
    public static func read(_ buffer: ByteBuffer, foldQuantized: Bool = true) throws(SafetensorsError) -> (model: Model, fileCRC32: UInt32) {
        let file = buffer.bytes
        let (headerEnd, metadata, parsed) = try parseHeader(file)
        var entries = parsed
        // Sorted by offset, the tensors must tile the data buffer exactly.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        let dataSize = file.count - headerEnd
        var end = 0
        for e in entries {
            guard e.begin >= end else { throw .offsetsOverlap(tensor: e.name, begin: e.begin, previousEnd: end) }
            guard e.begin == end else { throw .offsetsGap(tensor: e.name, begin: e.begin, expected: end) }
            end = e.end
        }
        guard end == dataSize else {
            if end > dataSize, let last = entries.last {
                throw .invalidEntry(tensor: last.name, reason: "data_offsets end at \(end), past the end of the \(dataSize)-byte data buffer")
            }
            throw .trailingBytes(dataEnd: end, bufferSize: dataSize)
        }
        let ranges = entries.map { UnsafeRawBufferPointer(rebasing: file[(headerEnd + $0.begin)..<(headerEnd + $0.end)]) }
        let crcs = CRC32.checksums(ranges, releasing: buffer)  // checked pages need not stay resident
        var model = Model()
        var fileCRC = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[0..<headerEnd]))
        for (i, e) in entries.enumerated() {
            fileCRC = CRC32.combine(fileCRC, crcs[i], lengthB: e.end - e.begin)
            guard let data = TensorData(buffer: buffer, offset: headerEnd + e.begin, count: e.end - e.begin, knownCRC32: crcs[i]),
                  let tensor = try? Tensor(name: e.name, dtype: e.dtype, shape: e.shape, data: data) else {
                throw .lengthMismatch(tensor: e.name, expected: e.end - e.begin, actual: e.end - e.begin)
            }
            do { try model.append(tensor) } catch { throw .invalidEntry(tensor: e.name, reason: "\(error)") }
        }
        model.metadata = metadata
        return (foldQuantized ? try SafetensorsQuantization.fold(model) : model, fileCRC)
    }

    /// The header of the safetensors file in `file`, checked entry by entry (not yet that the
    /// tensors tile the buffer): where the data begins, the metadata, the entries in file order.
    static func parseHeader(_ file: UnsafeRawBufferPointer) throws(SafetensorsError) -> (headerEnd: Int, metadata: [String: String], entries: [Entry]) {
        guard file.count >= 8 else { throw .tooShort(fileSize: file.count) }
        let n = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(SafetensorsLayout.maxHeaderBytes) else { throw .headerTooLarge(length: n) }
        guard n <= UInt64(file.count - 8) else { throw .headerPastEnd(length: n, fileSize: file.count) }
        let headerEnd = 8 + Int(n)
        let header = UnsafeRawBufferPointer(rebasing: file[8..<headerEnd])
        guard String(validating: header, as: UTF8.self) != nil else { throw .headerNotUTF8 }
        guard header.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            throw .headerNotAnObject
        }
        let json: JSONValue
        do { json = try JSONParser.parse(header) } catch { throw .invalidJSON(error) }
        guard case .object(let members) = json else { throw .headerNotAnObject }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        entries.reserveCapacity(members.count)
        for (key, value) in members {
            if key == "__metadata__" {
                metadata = try readMetadata(value)
                continue
            }
            entries.append(try readEntry(key, value))
        }
        return (headerEnd, metadata, entries)
    }

    /// The tensor names in the header of the safetensors file in `bytes` (the data is not read).
    static func tensorNames(_ bytes: UnsafeRawBufferPointer) throws(SafetensorsError) -> Set<String> {
        Set(try parseHeader(bytes).entries.map(\.name))
    }

    static func readMetadata(_ value: JSONValue) throws(SafetensorsError) -> [String: String] {
        if value == .null { return [:] }  // accepted by the reference reader
        guard case .object(let pairs) = value else { throw .invalidMetadata("not an object of strings") }
        var out: [String: String] = [:]
        for (k, v) in pairs {
            guard let s = v.stringValue else { throw .invalidMetadata("the value of '\(k)' is not a string") }
            out[k] = s
        }
        return out
    }

    static func readEntry(_ name: String, _ value: JSONValue) throws(SafetensorsError) -> Entry {
        func invalid(_ r: String) -> SafetensorsError { .invalidEntry(tensor: name, reason: r) }
        guard !name.isEmpty else { throw invalid("empty tensor name") }
        guard case .object = value else { throw invalid("entry is not an object") }
        guard let dtypeName = value["dtype"]?.stringValue else { throw invalid("no dtype string") }
        guard let known = SafetensorsLayout.dtypes[dtypeName] else { throw .unknownDType(tensor: name, dtype: dtypeName) }
        guard let dtype = known else { throw .unsupportedDType(tensor: name, dtype: dtypeName) }
        guard case .array(let dimsJSON)? = value["shape"] else { throw invalid("no shape array") }
        var dims: [Int] = []
        for d in dimsJSON {
            guard let v = d.nonNegativeInt else { throw invalid("shape entry \(d) is not a non-negative integer") }
            dims.append(v)
        }
        guard case .array(let offsets)? = value["data_offsets"], offsets.count == 2,
              let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt else {
            throw invalid("data_offsets is not [BEGIN, END] of non-negative integers")
        }
        guard begin <= end else { throw .offsetsInvalid(tensor: name, begin: begin, end: end) }
        guard let shape = try? Shape(dims), let bytes = dtype.byteCount(elements: shape.elementCount) else {
            throw .shapeOverflow(tensor: name, shape: dims)
        }
        guard bytes == end - begin else { throw .lengthMismatch(tensor: name, expected: bytes, actual: end - begin) }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }
}
