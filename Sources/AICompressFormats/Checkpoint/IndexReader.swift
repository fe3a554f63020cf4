import AICompressCore

/// A bounds-checked little-endian cursor over the index bytes. Every read checks the bytes left
/// first; every count is checked against its limit and against what the remaining bytes could
/// hold, so nothing is allocated from an unchecked number.
struct IndexReader {
    let bytes: UnsafeRawBufferPointer
    /// File offset of `bytes[0]`, so errors report absolute offsets.
    let base: Int
    private(set) var position = 0

    init(bytes: UnsafeRawBufferPointer, base: Int) {
        self.bytes = bytes
        self.base = base
    }

    var remaining: Int { bytes.count - position }
    var offset: Int { base + position }

    private mutating func take(_ n: Int, _ what: String) throws(CheckpointError) -> Int {
        guard n <= remaining else { throw .indexTruncated(offset: offset, what: what) }
        defer { position += n }
        return position
    }

    mutating func u8(_ what: String) throws(CheckpointError) -> UInt8 {
        bytes[try take(1, what)]
    }

    mutating func u32(_ what: String) throws(CheckpointError) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4, what), as: UInt32.self))
    }

    mutating func u64(_ what: String) throws(CheckpointError) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8, what), as: UInt64.self))
    }

    mutating func i64(_ what: String) throws(CheckpointError) -> Int64 {
        Int64(bitPattern: try u64(what))
    }

    mutating func f32(_ what: String) throws(CheckpointError) -> Float {
        Float(bitPattern: try u32(what))
    }

    /// `n` raw bytes, copied.
    mutating func rawBytes(_ n: Int, _ what: String) throws(CheckpointError) -> [UInt8] {
        let start = try take(n, what)
        return Array(bytes[start..<(start + n)])
    }

    /// A count of elements that each occupy at least `minSize` bytes, checked against `limit`
    /// and against the bytes left.
    mutating func count(_ what: String, wide: Bool, limit: Int, minSize: Int) throws(CheckpointError) -> Int {
        let at = offset
        let raw = wide ? try u64(what) : UInt64(try u32(what))
        guard raw <= UInt64(limit) else { throw .limitExceeded(what: what, value: raw, limit: UInt64(limit), offset: at) }
        guard raw <= UInt64(remaining / max(minSize, 1)) else { throw .indexTruncated(offset: at, what: "\(raw) \(what)") }
        return Int(raw)
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    mutating func bytesField(_ what: String, limit: Int) throws(CheckpointError) -> [UInt8] {
        let at = offset
        let n = try u32("length of \(what)")
        guard n <= UInt32(clamping: limit) else {
            throw .limitExceeded(what: "length of \(what)", value: UInt64(n), limit: UInt64(limit), offset: at)
        }
        let start = try take(Int(n), what)
        return Array(bytes[start..<(start + Int(n))])
    }

    /// A length-prefixed UTF-8 string of at most `limit` bytes.
    mutating func string(_ what: String, limit: Int) throws(CheckpointError) -> String {
        let at = offset
        let raw = try bytesField(what, limit: limit)
        guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(what: what, offset: at) }
        return s
    }
}

/// Builds the index: little-endian fields appended to a byte array.
typealias IndexWriter = LittleEndianWriter

extension LittleEndianWriter {
    mutating func bytesField(_ v: [UInt8], _ what: String, limit: Int) throws(CheckpointError) {
        guard v.count <= limit else { throw .unrepresentable("\(what) is \(v.count) bytes, over the limit of \(limit)") }
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }

    mutating func string(_ v: String, _ what: String, limit: Int) throws(CheckpointError) {
        try bytesField(Array(v.utf8), what, limit: limit)
    }

    mutating func count(_ n: Int, _ what: String, limit: Int) throws(CheckpointError) {
        guard n <= limit else { throw .unrepresentable("\(n) \(what), over the limit of \(limit)") }
        u32(UInt32(n))
    }
}
