/// Decodes dense tensor elements of any dtype to `Double`, a chunk at a time.
///
/// This is the plain, general path (used for statistics of non-f32 tensors, for tests and for
/// display); hot loops over f32 data read the bytes directly.
public enum ElementDecoder {
    /// Calls `body` with consecutive chunks of at most `chunk` decoded values, in order
    /// (quantized tensors are dequantized).
    public static func forEachChunk(of tensor: Tensor, chunk: Int, _ body: ([Double]) -> Void) {
        forEachChunk(of: tensor, range: 0..<tensor.elementCount, chunk: chunk, body)
    }

    /// The same for elements `range` only.
    public static func forEachChunk(of tensor: Tensor, range: Range<Int>, chunk: Int, _ body: ([Double]) -> Void) {
        if let sparse = tensor.sparseLayout {
            // Expand once; sparse tensors are decoded for display and conversion, not hot loops.
            let dense = tensor.data.withUnsafeBytes { sparse.decode($0) }
            forEachChunk(dtype: tensor.dtype, count: tensor.elementCount, data: TensorData(dense), range: range, chunk: chunk, body)
            return
        }
        if tensor.sparseQuantizedLayout != nil, let quantized = try? tensor.expandedQuantized() {
            // Expanded once to the quantized integers (one byte or half a byte per element).
            forEachChunk(of: quantized, range: range, chunk: chunk, body)
            return
        }
        if let type = tensor.ggmlType {
            tensor.data.withUnsafeBytes { GGMLLayout.forEachChunk(type, $0, range: range, chunk: chunk, body) }
            return
        }
        guard let layout = tensor.quantizedLayout else {
            forEachChunk(dtype: tensor.dtype, count: tensor.elementCount, data: tensor.data, range: range, chunk: chunk, body)
            return
        }
        tensor.data.withUnsafeBytes { raw in
            chunks(range, chunk, body) { Double(rounded(layout.value(raw, $0), to: tensor.dtype)) }
        }
    }

    /// `v` as the dtype stores it (f16 and bf16 round to nearest even).
    @inline(__always)
    public static func rounded(_ v: Float, to dtype: DType) -> Float {
        switch dtype {
        case .f16: return Float(float16Bits: v.float16Bits)
        case .bf16: return Float(bfloat16Bits: v.bfloat16Bits)
        default: return v
        }
    }

    /// Decodes the elements `range` of a dense buffer of `count` `dtype` values.
    public static func forEachChunk(
        dtype: DType, count: Int, data: TensorData, range: Range<Int>, chunk: Int, _ body: ([Double]) -> Void
    ) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count && chunk > 0)
        data.withUnsafeBytes { raw in chunks(range, chunk, body) { value(dtype, raw, $0) } }
    }

    /// Hands `body` the values of `range`, `chunk` at a time, from one reused buffer.
    @inline(__always)
    static func chunks(_ range: Range<Int>, _ chunk: Int, _ body: ([Double]) -> Void, _ element: (Int) -> Double) {
        var buffer = [Double]()
        buffer.reserveCapacity(min(chunk, range.count))
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(range.upperBound, i + chunk)
            buffer.removeAll(keepingCapacity: true)
            for k in i..<end { buffer.append(element(k)) }
            body(buffer)
            i = end
        }
    }

    /// Element `k` of a dense buffer as `Double`.
    @inline(__always)
    public static func value(_ dtype: DType, _ raw: UnsafeRawBufferPointer, _ k: Int) -> Double {
        switch dtype {
        case .f32: return Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))))
        case .f64: return Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)))
        case .f16: return Double(Float(float16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))))
        case .bf16: return Double(Float(bfloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))))
        case .i8: return Double(Int8(bitPattern: raw[k]))
        case .u8, .bool: return Double(raw[k])
        case .i16: return Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self)))
        case .u16: return Double(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
        case .i32: return Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
        case .u32: return Double(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
        case .i64: return Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
        case .u64: return Double(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)))
        case .u4: return Double(nibble(raw, k))
        case .i4:
            let n = nibble(raw, k)
            return Double(n >= 8 ? Int(n) - 16 : Int(n))
        }
    }

    @inline(__always)
    static func nibble(_ raw: UnsafeRawBufferPointer, _ k: Int) -> UInt8 {
        let byte = raw[k >> 1]
        return k & 1 == 0 ? byte & 0x0F : byte >> 4
    }
}

extension Float {
    /// IEEE binary16 bits of this value, rounded to nearest even.
    @inlinable
    public var float16Bits: UInt16 { Float16(self).bitPattern }

    /// bfloat16 bits of this value (the upper half of binary32), rounded to nearest even; NaN
    /// stays a quiet NaN.
    @inlinable
    public var bfloat16Bits: UInt16 {
        let bits = bitPattern
        if isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    /// Converts IEEE binary16 bits to `Float` exactly (subnormals, infinities and NaN included).
    @inlinable
    public init(float16Bits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F {
            self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        } else if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24, exact in binary32.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            self = sign != 0 ? -magnitude : magnitude
        } else {
            self = Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
        }
    }

    /// Converts bfloat16 bits (the upper half of a binary32) to `Float` exactly.
    @inlinable
    public init(bfloat16Bits b: UInt16) {
        self = Float(bitPattern: UInt32(b) << 16)
    }
}
