import AICompressCore

/// Little-endian writing of the global pruning statistics and threshold files
/// (spec/sharded-runs.md §6.3).
typealias GlobalPruneBytesWriter = LittleEndianWriter

/// Checked little-endian reading of the same files: every read is bounds-checked first, and
/// each failure is `GlobalPruneError.malformed` naming the file and the offset.
struct GlobalPruneBytesReader {
    let bytes: [UInt8]
    let file: String
    private(set) var offset = 0

    init(_ bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    var remaining: Int { bytes.count - offset }

    func fail(_ reason: String) -> GlobalPruneError { .malformed(file: file, reason: reason) }

    /// Refuses unless `count` more bytes are there (called before anything is allocated).
    func need(_ count: Int, _ what: String) throws(GlobalPruneError) {
        guard count >= 0, count <= remaining else {
            throw fail("\(what) needs \(count) bytes at offset \(offset), \(remaining) left")
        }
    }

    mutating func raw(_ count: Int, _ what: String) throws(GlobalPruneError) -> ArraySlice<UInt8> {
        try need(count, what)
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func u8(_ what: String) throws(GlobalPruneError) -> UInt8 { try raw(1, what).first ?? 0 }

    mutating func u32(_ what: String) throws(GlobalPruneError) -> UInt32 {
        try raw(4, what).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    mutating func u64(_ what: String) throws(GlobalPruneError) -> UInt64 {
        try raw(8, what).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A count or size: at most `limit` (so sums of a few of them cannot overflow).
    mutating func int(_ what: String, limit: Int = 1 << 56) throws(GlobalPruneError) -> Int {
        let at = offset
        let v = try u64(what)
        guard v <= UInt64(limit) else { throw fail("\(what) \(v) at offset \(at) exceeds \(limit)") }
        return Int(v)
    }

    /// Refuses trailing bytes.
    func end() throws(GlobalPruneError) {
        guard remaining == 0 else { throw fail("\(remaining) bytes after the end at offset \(offset)") }
    }
}
