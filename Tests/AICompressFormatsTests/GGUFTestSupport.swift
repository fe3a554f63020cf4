import AICompressCore
@testable import AICompressFormats

/// Builds GGUF bytes by hand, field by field, so tests can make any malformed file.
struct GGUFBytes {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { GGUFEncoding.appendLE(v, to: &bytes) }
    mutating func u64(_ v: UInt64) { GGUFEncoding.appendLE(v, to: &bytes) }
    mutating func str(_ s: String) { str(Array(s.utf8)) }
    mutating func str(_ b: [UInt8]) {
        u64(UInt64(b.count))
        bytes += b
    }
    mutating func pad(to alignment: Int) {
        bytes += [UInt8](repeating: 0, count: (alignment - bytes.count % alignment) % alignment)
    }

    /// Magic, version and the two counts.
    static func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) -> GGUFBytes {
        var g = GGUFBytes()
        g.u32(GGUFReader.magic)
        g.u32(version)
        g.u64(tensors)
        g.u64(kvs)
        return g
    }

    /// A u32 pair.
    mutating func kvU32(_ key: String, _ v: UInt32) {
        str(key)
        u32(GGUFValueType.uint32.rawValue)
        u32(v)
    }

    /// A tensor entry.
    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        str(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    var buffer: ByteBuffer { bytes.withUnsafeBytes { ByteBuffer.copying($0) } }
}

/// Reads GGUF bytes held in memory.
func readGGUF(_ bytes: [UInt8]) throws -> GGUFFile {
    try GGUFReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) })
}

/// A file with tensors `[(name, dims, type id, offset)]`, no metadata, data of `dataBytes` zeros.
func ggufWithTensors(_ tensors: [(String, [UInt64], UInt32, UInt64)], dataBytes: Int, kvs: [(String, UInt32)] = []) -> [UInt8] {
    var g = GGUFBytes.header(tensors: UInt64(tensors.count), kvs: UInt64(kvs.count))
    for (k, v) in kvs { g.kvU32(k, v) }
    for t in tensors { g.tensor(t.0, dims: t.1, type: t.2, offset: t.3) }
    let alignment = Int(kvs.first { $0.0 == "general.alignment" }?.1 ?? 32)
    g.pad(to: alignment > 0 ? alignment : 32)
    g.bytes += [UInt8](repeating: 0, count: dataBytes)
    return g.bytes
}
