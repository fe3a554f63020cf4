/// The integer types quantized values are stored in. Each layout is declared here once, with its
/// bits per value and its range (spec/checkpoint-format.md §5, encoding 2).
public enum QuantizedStorage: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case int8 = 5
    case uint8 = 6
    case int4 = 11
    case uint4 = 12

    /// Bits per stored value (4-bit values are packed two per byte, low nibble first).
    public var bits: Int { self == .int8 || self == .uint8 ? 8 : 4 }
    public var isSigned: Bool { self == .int8 || self == .int4 }
    /// The full range of the type.
    public var qmin: Int { isSigned ? -(1 << (bits - 1)) : 0 }
    public var qmax: Int { isSigned ? (1 << (bits - 1)) - 1 : (1 << bits) - 1 }
    /// The symmetric range used for signed symmetric quantization (zero exactly in the middle).
    public var symmetricRange: ClosedRange<Int> { isSigned ? (-qmax)...qmax : qmin...qmax }
    /// The dtype of the stored integers.
    public var dtype: DType { DType(rawValue: rawValue)! }
    public var description: String { "\(self)".lowercased() }
    public var name: String {
        switch self {
        case .int8: return "int8"
        case .uint8: return "uint8"
        case .int4: return "int4"
        case .uint4: return "uint4"
        }
    }
}

/// How a tensor's values were quantized: storage type, granularity and zero points. Granularity
/// follows ONNX DequantizeLinear: per tensor (`axis == nil`), per axis (one scale per index of
/// `axis`), or blocked (`blockSize > 0`: blocks of `blockSize` consecutive indices along `axis`,
/// one scale per block and per index of every other axis).
public struct QuantizationParameters: Sendable, Hashable {
    public var storage: QuantizedStorage
    public var axis: Int?
    public var blockSize: Int
    public var hasZeroPoint: Bool

    public init(storage: QuantizedStorage, axis: Int?, blockSize: Int = 0, hasZeroPoint: Bool) {
        self.storage = storage
        self.axis = axis
        self.blockSize = blockSize
        self.hasZeroPoint = hasZeroPoint
    }

    /// `per-tensor`, `per-channel(axis 0)` or `group 32 (axis 1)`.
    public var granularity: String {
        guard let axis else { return "per-tensor" }
        return blockSize > 0 ? "group \(blockSize) (axis \(axis))" : "per-channel (axis \(axis))"
    }
}

/// Where the parts of a quantized payload are, for a given shape (spec §5, encoding 2):
/// the integers, zero padding to a multiple of 4, `scaleCount` f32 scales, then (optionally)
/// `scaleCount` zero points in the storage type.
public struct QuantizedLayout: Sendable, Equatable {
    public let parameters: QuantizationParameters
    public let shape: Shape
    /// Shape of the scale (and zero point) tensor, as ONNX DequantizeLinear expects it.
    public let scaleShape: [Int]
    public let scaleCount: Int
    public let integerBytes: Int
    public let scalesOffset: Int
    public let zeroPointsOffset: Int
    public let payloadBytes: Int
    /// Elements before, along and after the axis (outer × axisLength × inner = count).
    public let outer: Int, axisLength: Int, inner: Int

    /// The layout of `params` over `shape`.
    /// - Throws: `ModelError.invalidQuantization` for an axis out of range, or
    ///   `.shapeOverflow`.
    public init(shape: Shape, parameters params: QuantizationParameters) throws(ModelError) {
        self.parameters = params
        self.shape = shape
        let dims = shape.dims
        if let axis = params.axis {
            guard axis >= 0, axis < dims.count else { throw .invalidQuantization("axis \(axis) out of range for shape \(shape)") }
            guard params.blockSize >= 0 else { throw .invalidQuantization("negative block size") }
            outer = dims[..<axis].reduce(1, *)
            axisLength = dims[axis]
            inner = dims[(axis + 1)...].reduce(1, *)
            if params.blockSize > 0 {
                var s = dims
                s[axis] = (dims[axis] + params.blockSize - 1) / params.blockSize
                scaleShape = s
            } else {
                scaleShape = [dims[axis]]
            }
        } else {
            guard params.blockSize == 0 else { throw .invalidQuantization("a block size needs an axis") }
            outer = 1
            axisLength = shape.elementCount
            inner = 1
            scaleShape = []
        }
        guard let sc = try? Shape(scaleShape) else { throw .shapeOverflow(dims) }
        scaleCount = sc.elementCount
        let bits = params.storage.bits
        func packed(_ n: Int) -> Int? {
            let (b, o) = n.multipliedReportingOverflow(by: bits)
            return o ? nil : (b + 7) / 8
        }
        guard let q = packed(shape.elementCount), let z = packed(scaleCount) else { throw .shapeOverflow(dims) }
        integerBytes = q
        scalesOffset = (q + 3) / 4 * 4
        let (scalesEnd, o1) = scalesOffset.addingReportingOverflow(scaleCount &* 4)
        guard !o1, scaleCount <= Int.max / 4 else { throw .shapeOverflow(dims) }
        zeroPointsOffset = scalesEnd
        let (end, o2) = scalesEnd.addingReportingOverflow(params.hasZeroPoint ? z : 0)
        guard !o2 else { throw .shapeOverflow(dims) }
        payloadBytes = end
    }

    /// The scale index of flat element `k`.
    @inline(__always)
    public func scaleIndex(_ k: Int) -> Int {
        guard parameters.axis != nil else { return 0 }
        let a = (k / inner) % axisLength
        if parameters.blockSize == 0 { return a }
        let o = k / (inner * axisLength)
        let blocks = (axisLength + parameters.blockSize - 1) / parameters.blockSize
        return (o * blocks + a / parameters.blockSize) * inner + k % inner
    }

    /// Bits per weight including scales and zero points.
    public var bitsPerWeight: Double {
        shape.elementCount > 0 ? Double(payloadBytes * 8) / Double(shape.elementCount) : 0
    }

    /// Reads stored integer `k` (of the values, or of the zero points with `base`).
    @inline(__always)
    public static func integer(_ raw: UnsafeRawBufferPointer, base: Int, _ k: Int, _ storage: QuantizedStorage) -> Int {
        switch storage {
        case .int8: return Int(Int8(bitPattern: raw[base + k]))
        case .uint8: return Int(raw[base + k])
        case .uint4:
            let b = raw[base + k >> 1]
            return Int(k & 1 == 0 ? b & 0x0F : b >> 4)
        case .int4:
            let b = raw[base + k >> 1]
            let n = Int(k & 1 == 0 ? b & 0x0F : b >> 4)
            return n >= 8 ? n - 16 : n
        }
    }

    /// Scale `s` of a payload.
    @inline(__always)
    public func scale(_ raw: UnsafeRawBufferPointer, _ s: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: scalesOffset + 4 * s, as: UInt32.self)))
    }

    /// Zero point `s` of a payload (0 without zero points).
    @inline(__always)
    public func zeroPoint(_ raw: UnsafeRawBufferPointer, _ s: Int) -> Int {
        parameters.hasZeroPoint ? QuantizedLayout.integer(raw, base: zeroPointsOffset, s, parameters.storage) : 0
    }

    /// Dequantized value `k`: (q - zero point) × scale, in f32 as ONNX DequantizeLinear computes it.
    @inline(__always)
    public func value(_ raw: UnsafeRawBufferPointer, _ k: Int) -> Float {
        let s = scaleIndex(k)
        return Float(QuantizedLayout.integer(raw, base: 0, k, parameters.storage) - zeroPoint(raw, s)) * scale(raw, s)
    }
}
