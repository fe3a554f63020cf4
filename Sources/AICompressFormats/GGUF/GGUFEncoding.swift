/// Little-endian encoding of GGUF values, shared by the reader and the writer.
enum GGUFEncoding {
    static func appendLE<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendString(_ s: GGUFString, to out: inout [UInt8]) {
        appendLE(UInt64(s.bytes.count), to: &out)
        out.append(contentsOf: s.bytes)
    }

    /// Appends a fixed-size value (not string or array; those are no-ops here).
    static func appendScalar(_ v: GGUFValue, to out: inout [UInt8]) {
        switch v {
        case .uint8(let x): out.append(x)
        case .int8(let x): out.append(UInt8(bitPattern: x))
        case .bool(let x): out.append(x ? 1 : 0)
        case .uint16(let x): appendLE(x, to: &out)
        case .int16(let x): appendLE(x, to: &out)
        case .uint32(let x): appendLE(x, to: &out)
        case .int32(let x): appendLE(x, to: &out)
        case .float32(let x): appendLE(x.bitPattern, to: &out)
        case .uint64(let x): appendLE(x, to: &out)
        case .int64(let x): appendLE(x, to: &out)
        case .float64(let x): appendLE(x.bitPattern, to: &out)
        case .string, .array: break
        }
    }

    /// Appends a value without its type code.
    static func appendValue(_ v: GGUFValue, to out: inout [UInt8]) {
        switch v {
        case .string(let s): appendString(s, to: &out)
        case .array(let a): appendArray(a, to: &out)
        default: appendScalar(v, to: &out)
        }
    }

    static func appendArray(_ a: GGUFArray, to out: inout [UInt8]) {
        appendLE(a.elementType.rawValue, to: &out)
        appendLE(UInt64(a.count), to: &out)
        switch a.storage {
        case .scalars(let bytes): out.append(contentsOf: bytes)
        case .strings(let s): for x in s { appendString(x, to: &out) }
        case .arrays(let inner): for x in inner { appendArray(x, to: &out) }
        }
    }

    /// Decodes one fixed-size value of `type` from exactly its bytes (bool: nonzero is true;
    /// the reader has already refused values other than 0 and 1).
    static func scalar(_ type: GGUFValueType, _ b: UnsafeRawBufferPointer) -> GGUFValue {
        func le<T: FixedWidthInteger>(_: T.Type) -> T {
            var v: T = 0
            for k in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: b[k]) << (8 * k) }
            return v
        }
        switch type {
        case .uint8: return .uint8(b[0])
        case .int8: return .int8(Int8(bitPattern: b[0]))
        case .bool: return .bool(b[0] != 0)
        case .uint16: return .uint16(le(UInt16.self))
        case .int16: return .int16(le(Int16.self))
        case .uint32: return .uint32(le(UInt32.self))
        case .int32: return .int32(le(Int32.self))
        case .float32: return .float32(Float(bitPattern: le(UInt32.self)))
        case .uint64: return .uint64(le(UInt64.self))
        case .int64: return .int64(le(Int64.self))
        case .float64: return .float64(Double(bitPattern: le(UInt64.self)))
        case .string, .array: return .uint8(0)  // not fixed-size; never asked
        }
    }
}
