/// The sparse encoding (spec §5.2): a bitmask with bit k set when element k is stored (LSB
/// first within each byte), zero padding to a multiple of 8, then the stored elements in order,
/// dense little-endian. Elements not in the mask are zero.
public struct SparseLayout: Sendable, Equatable {
    public let dtype: DType
    public let count: Int
    public let nonZeros: Int
    public let maskBytes: Int
    public let valuesOffset: Int
    public let payloadBytes: Int

    /// - Throws: `ModelError.invalidSparsity` for 4-bit dtypes or a count out of range.
    public init(dtype: DType, count: Int, nonZeros: Int) throws(ModelError) {
        guard dtype.bits >= 8 else { throw .invalidSparsity("4-bit tensors cannot be stored sparse") }
        guard nonZeros >= 0, nonZeros <= count else { throw .invalidSparsity("\(nonZeros) stored elements of \(count)") }
        self.dtype = dtype
        self.count = count
        self.nonZeros = nonZeros
        maskBytes = (count + 7) / 8
        valuesOffset = (maskBytes + 7) / 8 * 8
        payloadBytes = valuesOffset + nonZeros * (dtype.bits / 8)
    }

    /// Bytes of the dense form.
    public var denseBytes: Int { count * (dtype.bits / 8) }

    /// Whether storing `nonZeros` of `count` elements sparse is smaller than dense.
    public static func isWorthIt(dtype: DType, count: Int, nonZeros: Int) -> Bool {
        guard let l = try? SparseLayout(dtype: dtype, count: count, nonZeros: nonZeros) else { return false }
        return l.payloadBytes < l.denseBytes
    }

    /// Encodes a dense buffer: every element whose bytes are not all zero is stored (so -0.0
    /// and NaN payloads survive bit for bit).
    public static func encode(dense raw: UnsafeRawBufferPointer, dtype: DType, count: Int) -> (payload: ByteBuffer, nonZeros: Int) {
        let width = dtype.bits / 8
        let nnz = nonZeroCount(dense: raw, dtype: dtype, count: count)
        // nnz <= count and width >= 1 hold by construction, so the layout exists.
        let maskBytes = (count + 7) / 8
        let valuesOffset = (maskBytes + 7) / 8 * 8
        let payload = ByteBuffer.build(count: valuesOffset + nnz * width) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            var j = 0
            for k in 0..<count where !isZero(raw, k, width) {
                out[k >> 3] |= 1 << UInt8(k & 7)
                (out.baseAddress! + valuesOffset + j * width).copyMemory(from: raw.baseAddress! + k * width, byteCount: width)
                j += 1
            }
        }
        return (payload, nnz)
    }

    /// Elements of a dense buffer whose bytes are not all zero (what `encode` would store).
    public static func nonZeroCount(dense raw: UnsafeRawBufferPointer, dtype: DType, count: Int) -> Int {
        let width = dtype.bits / 8
        var nnz = 0
        for k in 0..<count where !isZero(raw, k, width) { nnz += 1 }
        return nnz
    }

    @inline(__always)
    static func isZero(_ raw: UnsafeRawBufferPointer, _ k: Int, _ width: Int) -> Bool {
        switch width {
        case 1: return raw[k] == 0
        case 2: return raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self) == 0
        case 4: return raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self) == 0
        default: return raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self) == 0
        }
    }

    /// The dense bytes of a sparse payload.
    public func decode(_ payload: UnsafeRawBufferPointer) -> ByteBuffer {
        let width = dtype.bits / 8
        return ByteBuffer.build(count: denseBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            var j = 0
            for k in 0..<count where payload[k >> 3] & (1 << UInt8(k & 7)) != 0 {
                (out.baseAddress! + k * width).copyMemory(from: payload.baseAddress! + valuesOffset + j * width, byteCount: width)
                j += 1
            }
        }
    }

    /// Whether the mask has exactly `nonZeros` bits set and no bit past `count`.
    public func maskIsConsistent(_ payload: UnsafeRawBufferPointer) -> Bool {
        var bits = 0
        for i in 0..<maskBytes { bits += payload[i].nonzeroBitCount }
        if count % 8 != 0, maskBytes > 0, payload[maskBytes - 1] >> UInt8(count % 8) != 0 { return false }
        return bits == nonZeros
    }
}

extension Tensor {
    /// The same values stored densely (a no-op for dense tensors; sparse ones are expanded;
    /// quantized ones are dequantized to their dtype; ggml blocks decode to f32).
    public func densified() throws(ModelError) -> Tensor {
        switch encoding {
        case .dense:
            return self
        case .sparseQuantized:
            return try expandedQuantized().densified()
        case .ggml(let type):
            return try Tensor(name: name, dtype: .f32, shape: shape, data: TensorData(GGMLLayout.decode(type, data, count: elementCount)))
        case .sparse:
            let layout = sparseLayout!
            let buffer = data.withUnsafeBytes { layout.decode($0) }
            return try Tensor(name: name, dtype: dtype, shape: shape, data: TensorData(buffer))
        case .quantized:
            var values = [Double]()
            values.reserveCapacity(elementCount)
            ElementDecoder.forEachChunk(of: self, chunk: 4096) { values.append(contentsOf: $0) }
            let width = dtype.bits / 8
            let buffer = ByteBuffer.build(count: elementCount * width) { out in
                for (k, v) in values.enumerated() {
                    let f = Float(v)
                    switch dtype {
                    case .f64: out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 8 * k, as: UInt64.self)
                    case .f16: out.storeBytes(of: f.float16Bits.littleEndian, toByteOffset: 2 * k, as: UInt16.self)
                    case .bf16: out.storeBytes(of: f.bfloat16Bits.littleEndian, toByteOffset: 2 * k, as: UInt16.self)
                    default: out.storeBytes(of: f.bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self)
                    }
                }
            }
            return try Tensor(name: name, dtype: dtype, shape: shape, data: TensorData(buffer))
        }
    }
}
