import AICompressCore

/// Protobuf wire-format primitives: a bounds-checked field walker for reading and a streaming
/// encoder for writing. Only ONNX's own messages pass through here.
enum ProtoWire {
    static let varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5

    /// One field of a message: its number, wire type, the byte range of the whole field
    /// (tag included) and of its payload.
    struct Field {
        let number: Int
        let wireType: Int
        let start: Int
        let payload: Range<Int>
        let value: UInt64  // the varint value, for wire type 0
    }

    /// Walks the fields of one message in `bytes[range]`; every length is checked against the
    /// bytes left, so a hostile file can only make it stop with an error.
    static func fields(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Field) throws -> Void
    ) throws {
        var p = range.lowerBound
        let end = range.upperBound
        func readVarint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard p < end else { throw ONNXError.malformedProtobuf(reason: "truncated varint", offset: p) }
                let b = bytes[p]
                p += 1
                guard shift < 64 else { throw ONNXError.malformedProtobuf(reason: "varint longer than 10 bytes", offset: p - 1) }
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }
        while p < end {
            let start = p
            let tag = try readVarint()
            let number = Int(truncatingIfNeeded: tag >> 3)
            let wire = Int(tag & 7)
            guard number > 0, tag >> 3 <= 0x1FFF_FFFF else {
                throw ONNXError.malformedProtobuf(reason: "invalid field number \(tag >> 3)", offset: start)
            }
            switch wire {
            case varint:
                let v = try readVarint()
                try body(Field(number: number, wireType: wire, start: start, payload: p..<p, value: v))
            case fixed64, fixed32:
                let n = wire == fixed64 ? 8 : 4
                guard end - p >= n else { throw ONNXError.malformedProtobuf(reason: "truncated fixed-width field \(number)", offset: start) }
                try body(Field(number: number, wireType: wire, start: start, payload: p..<(p + n), value: 0))
                p += n
            case lengthDelimited:
                let length = try readVarint()
                guard length <= UInt64(end - p) else {
                    throw ONNXError.malformedProtobuf(reason: "field \(number) of length \(length) runs past its message", offset: start)
                }
                let n = Int(length)
                try body(Field(number: number, wireType: wire, start: start, payload: p..<(p + n), value: 0))
                p += n
            default:
                throw ONNXError.malformedProtobuf(reason: "unsupported wire type \(wire) for field \(number)", offset: start)
            }
        }
    }

    /// Appends `v` as a varint.
    static func appendVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var v = v >> 7
        while v != 0 {
            n += 1
            v >>= 7
        }
        return n
    }
}

/// A protobuf message under construction. Small fields are encoded at once; large byte fields
/// (tensor data) and sub-messages are kept by reference, so writing streams them without a
/// copy. Sizes are computed before anything is written, as length prefixes need them.
struct ProtoMessage {
    private enum Part {
        case encoded([UInt8])
        case data(field: Int, TensorData)
        case message(field: Int, ProtoMessage)
    }
    private var parts: [Part] = []
    private(set) var size = 0

    private mutating func appendEncoded(_ body: (inout [UInt8]) -> Void) {
        if case .encoded(var bytes) = parts.last {
            parts.removeLast()
            let before = bytes.count
            body(&bytes)
            size += bytes.count - before
            parts.append(.encoded(bytes))
        } else {
            var bytes: [UInt8] = []
            body(&bytes)
            size += bytes.count
            parts.append(.encoded(bytes))
        }
    }

    mutating func varint(_ field: Int, _ v: UInt64) {
        appendEncoded {
            ProtoWire.appendVarint(UInt64(field << 3 | ProtoWire.varint), to: &$0)
            ProtoWire.appendVarint(v, to: &$0)
        }
    }

    mutating func int64(_ field: Int, _ v: Int64) { varint(field, UInt64(bitPattern: v)) }

    /// An int32 (sign-extended to 64 bits on the wire, as protobuf does for negative values).
    mutating func int32(_ field: Int, _ v: Int32) { varint(field, UInt64(bitPattern: Int64(v))) }

    mutating func float(_ field: Int, _ v: Float) {
        appendEncoded { out in
            ProtoWire.appendVarint(UInt64(field << 3 | ProtoWire.fixed32), to: &out)
            withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
    }

    mutating func bytes(_ field: Int, _ v: [UInt8]) {
        appendEncoded {
            ProtoWire.appendVarint(UInt64(field << 3 | ProtoWire.lengthDelimited), to: &$0)
            ProtoWire.appendVarint(UInt64(v.count), to: &$0)
            $0.append(contentsOf: v)
        }
    }

    mutating func string(_ field: Int, _ v: String) { bytes(field, Array(v.utf8)) }

    /// A packed repeated scalar field from already-encoded payload bytes.
    mutating func packed(_ field: Int, _ payload: [UInt8]) { bytes(field, payload) }

    /// A bytes field whose content is a tensor's data, referenced rather than copied.
    mutating func data(_ field: Int, _ d: TensorData) {
        size += ProtoWire.varintSize(UInt64(field << 3 | ProtoWire.lengthDelimited)) + ProtoWire.varintSize(UInt64(d.count)) + d.count
        parts.append(.data(field: field, d))
    }

    mutating func message(_ field: Int, _ m: ProtoMessage) {
        size += ProtoWire.varintSize(UInt64(field << 3 | ProtoWire.lengthDelimited)) + ProtoWire.varintSize(UInt64(m.size)) + m.size
        parts.append(.message(field: field, m))
    }

    /// Streams the encoded message (without its own tag or length) to `sink`.
    func write<S: ByteSink>(to sink: inout S) throws {
        for part in parts {
            switch part {
            case .encoded(let b):
                try sink.write(b)
            case .data(let field, let d):
                var head: [UInt8] = []
                ProtoWire.appendVarint(UInt64(field << 3 | ProtoWire.lengthDelimited), to: &head)
                ProtoWire.appendVarint(UInt64(d.count), to: &head)
                try sink.write(head)
                try sink.write(d)
            case .message(let field, let m):
                var head: [UInt8] = []
                ProtoWire.appendVarint(UInt64(field << 3 | ProtoWire.lengthDelimited), to: &head)
                ProtoWire.appendVarint(UInt64(m.size), to: &head)
                try sink.write(head)
                try m.write(to: &sink)
            }
        }
    }
}
