/// The sparse + quantized encoding (spec §5.4, code 4): a pruned tensor's quantized form
/// without the integers of its pruned elements. A bitmask marks the elements whose integer is
/// stored (bit k, LSB first within each byte, zero padding to a multiple of 8); then the stored
/// integers in order, packed as the quantized encoding packs them; zero padding to a multiple of
/// 4; then the scales and optional zero points exactly as in the quantized encoding (same
/// granularity, same scale index of element k). An element not in the mask has the integer of
/// its zero point (0 without zero points), so it decodes to (zp − zp) × scale, and the encoding
/// is a lossless repacking of the quantized one: `expandedQuantized()` gives those bytes back.
public struct SparseQuantizedLayout: Sendable, Equatable {
    /// The quantized layout of the same tensor: granularity, scale count, scale index.
    public let quantized: QuantizedLayout
    /// Stored integers (set mask bits).
    public let nonZeros: Int
    public let maskBytes: Int
    public let integersOffset: Int
    public let integerBytes: Int
    public let scalesOffset: Int
    public let zeroPointsOffset: Int
    public let payloadBytes: Int

    /// The layout of `nonZeros` stored integers of `parameters` over `shape`.
    /// - Throws: `ModelError.invalidSparsity` for a count out of range, the quantized layout's
    ///   errors, or `.shapeOverflow`.
    public init(shape: Shape, parameters: QuantizationParameters, nonZeros: Int) throws(ModelError) {
        let q = try QuantizedLayout(shape: shape, parameters: parameters)
        let count = shape.elementCount
        guard nonZeros >= 0, nonZeros <= count else { throw .invalidSparsity("\(nonZeros) stored integers of \(count)") }
        quantized = q
        self.nonZeros = nonZeros
        maskBytes = count / 8 + (count % 8 == 0 ? 0 : 1)
        integersOffset = (maskBytes + 7) / 8 * 8
        // nonZeros <= count, whose packed size the quantized layout already computed without overflow.
        integerBytes = (nonZeros * parameters.storage.bits + 7) / 8
        let scalesBytes = q.zeroPointsOffset - q.scalesOffset, zeroPointBytes = q.payloadBytes - q.zeroPointsOffset
        let (a, o1) = integersOffset.addingReportingOverflow((integerBytes + 3) / 4 * 4)
        let (b, o2) = a.addingReportingOverflow(scalesBytes)
        let (c, o3) = b.addingReportingOverflow(zeroPointBytes)
        guard !o1, !o2, !o3 else { throw .shapeOverflow(shape.dims) }
        scalesOffset = a
        zeroPointsOffset = b
        payloadBytes = c
    }

    /// Bits per weight including the mask, scales and zero points.
    public var bitsPerWeight: Double {
        quantized.shape.elementCount > 0 ? Double(payloadBytes * 8) / Double(quantized.shape.elementCount) : 0
    }

    /// Whether the mask has exactly `nonZeros` bits set and no bit past the element count.
    public func maskIsConsistent(_ payload: UnsafeRawBufferPointer) -> Bool {
        let count = quantized.shape.elementCount
        var bits = 0
        for i in 0..<maskBytes { bits += payload[i].nonzeroBitCount }
        if count % 8 != 0, maskBytes > 0, payload[maskBytes - 1] >> UInt8(count % 8) != 0 { return false }
        return bits == nonZeros
    }

    /// Calls `body(k, s)` for every element k in order with its scale index s, without a
    /// division per element.
    @inline(__always)
    func forEachElement(_ body: (Int, Int) -> Void) {
        let q = quantized, p = q.parameters
        guard p.axis != nil else {
            for k in 0..<q.shape.elementCount { body(k, 0) }
            return
        }
        let blocks = p.blockSize > 0 ? (q.axisLength + p.blockSize - 1) / p.blockSize : 0
        var k = 0
        for o in 0..<q.outer {
            for a in 0..<q.axisLength {
                let row = p.blockSize > 0 ? (o * blocks + a / p.blockSize) * q.inner : a
                for i in 0..<q.inner {
                    body(k, p.blockSize > 0 ? row + i : row)
                    k += 1
                }
            }
        }
    }

    /// Stores integer `v` as element `k` of a packed run of `storage` values at `base`.
    @inline(__always)
    static func store(_ v: Int, _ out: UnsafeMutableRawBufferPointer, base: Int, _ k: Int, _ storage: QuantizedStorage) {
        if storage.bits == 8 {
            out[base + k] = UInt8(truncatingIfNeeded: v)
        } else {
            let nibble = UInt8(truncatingIfNeeded: v) & 0x0F
            out[base + k >> 1] |= k & 1 == 0 ? nibble : nibble << 4
        }
    }

    /// The quantized encoding's payload of the same values (integers of unmasked elements set to
    /// their zero points).
    public func expand(_ payload: UnsafeRawBufferPointer) -> ByteBuffer {
        let q = quantized, storage = q.parameters.storage
        return ByteBuffer.build(count: q.payloadBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            var j = 0
            forEachElement { k, s in
                let v: Int
                if payload[k >> 3] & (1 << UInt8(k & 7)) != 0 {
                    v = QuantizedLayout.integer(payload, base: integersOffset, j, storage)
                    j += 1
                } else {
                    v = q.parameters.hasZeroPoint ? QuantizedLayout.integer(payload, base: zeroPointsOffset, s, storage) : 0
                }
                if v != 0 { Self.store(v, out, base: 0, k, storage) }
            }
            // Scales and zero points are the same bytes in both encodings.
            let tail = payloadBytes - scalesOffset
            if tail > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[q.scalesOffset..<(q.scalesOffset + tail)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[scalesOffset..<payloadBytes]))
            }
        }
    }

    /// Integers of a quantized payload that differ from their zero points (what `compact` stores).
    public static func storedCount(_ q: QuantizedLayout, _ payload: UnsafeRawBufferPointer) -> Int {
        var n = 0
        let layout = try? SparseQuantizedLayout(shape: q.shape, parameters: q.parameters, nonZeros: 0)
        layout?.forEachElement { k, s in
            if QuantizedLayout.integer(payload, base: 0, k, q.parameters.storage) != q.zeroPoint(payload, s) { n += 1 }
        }
        return n
    }

    /// The sparse + quantized payload of a quantized payload: every element whose integer
    /// differs from its zero point is stored.
    public func compact(_ payload: UnsafeRawBufferPointer) -> ByteBuffer {
        let q = quantized, storage = q.parameters.storage
        return ByteBuffer.build(count: payloadBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            var j = 0
            forEachElement { k, s in
                let v = QuantizedLayout.integer(payload, base: 0, k, storage)
                guard v != q.zeroPoint(payload, s) else { return }
                out[k >> 3] |= 1 << UInt8(k & 7)
                Self.store(v, out, base: integersOffset, j, storage)
                j += 1
            }
            let tail = payloadBytes - scalesOffset
            if tail > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[scalesOffset..<payloadBytes])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[q.scalesOffset..<(q.scalesOffset + tail)]))
            }
        }
    }
}

extension Tensor {
    /// The sparse + quantized layout, for tensors in that encoding.
    public var sparseQuantizedLayout: SparseQuantizedLayout? {
        guard case .sparseQuantized(let nnz, let q) = encoding else { return nil }
        return try? SparseQuantizedLayout(shape: shape, parameters: q, nonZeros: nnz)
    }

    /// A sparse + quantized tensor as the quantized tensor it repacks (bit for bit the integers,
    /// scales and zero points); any other tensor unchanged.
    public func expandedQuantized() throws(ModelError) -> Tensor {
        guard case .sparseQuantized(_, let q) = encoding, let layout = sparseQuantizedLayout else { return self }
        let buffer = data.withUnsafeBytes { layout.expand($0) }
        return try Tensor(name: name, dtype: dtype, shape: shape, encoding: .quantized(q), data: TensorData(buffer))
    }

    /// The rule `quantize` applies to what it made (spec §5.4): a quantized tensor at least half
    /// of whose integers are their zero points (a pruned tensor: quantization alone leaves far
    /// fewer) is stored sparse + quantized when that is smaller; otherwise `self`. The values
    /// decode bit for bit the same either way.
    public func sparseQuantizedIfSmaller() throws(ModelError) -> Tensor {
        guard case .quantized(let q) = encoding, let dense = quantizedLayout, elementCount > 0 else { return self }
        let nnz = data.withUnsafeBytes { SparseQuantizedLayout.storedCount(dense, $0) }
        guard 2 * nnz <= elementCount else { return self }
        let layout = try SparseQuantizedLayout(shape: shape, parameters: q, nonZeros: nnz)
        guard layout.payloadBytes < dense.payloadBytes else { return self }
        let buffer = data.withUnsafeBytes { layout.compact($0) }
        return try Tensor(name: name, dtype: dtype, shape: shape, encoding: .sparseQuantized(nonZeros: nnz, q), data: TensorData(buffer))
    }
}
