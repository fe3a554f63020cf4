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

/// The type scales are stored in (spec/checkpoint-format.md §5.1, flag bit 1): binary32, or
/// binary16 as llama.cpp's Q4_0 stores its block scale (half the scale bits: 4.5 bits per weight
/// for int4 in groups of 32 instead of 5.0).
public enum QuantizedScale: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case f32
    case f16

    /// Bytes per stored scale.
    public var bytes: Int { self == .f32 ? 4 : 2 }
    /// Bits per stored scale.
    public var bits: Int { 8 * bytes }
    /// `x` as this type stores it (binary16: round to nearest even; overflow gives infinity).
    @inline(__always)
    public func rounded(_ x: Float) -> Float {
        self == .f32 ? x : Float(Float16(x))
    }
    /// `f32` or `f16`.
    public var description: String { rawValue }
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
    /// The type of the stored scales.
    public var scaleType: QuantizedScale

    /// Parameters of a quantized tensor; scales are binary32 unless `scaleType` says otherwise.
    public init(storage: QuantizedStorage, axis: Int?, blockSize: Int = 0, hasZeroPoint: Bool, scaleType: QuantizedScale = .f32) {
        self.storage = storage
        self.axis = axis
        self.blockSize = blockSize
        self.hasZeroPoint = hasZeroPoint
        self.scaleType = scaleType
    }

    /// `per-tensor`, `per-channel(axis 0)` or `group 32 (axis 1)`, with `, f16 scales` when
    /// the scales are binary16.
    public var granularity: String {
        let scales = scaleType == .f16 ? ", f16 scales" : ""
        guard let axis else { return "per-tensor" + scales }
        return (blockSize > 0 ? "group \(blockSize) (axis \(axis))" : "per-channel (axis \(axis))") + scales
    }
}

/// Where the parts of a quantized payload are, for a given shape (spec §5, encoding 2):
/// the integers, zero padding to a multiple of 4, `scaleCount` scales (f32, or f16 when the
/// parameters say so), then (optionally)
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
        guard scaleCount <= Int.max / 4 else { throw .shapeOverflow(dims) }
        let (scalesEnd, o1) = scalesOffset.addingReportingOverflow(scaleCount * params.scaleType.bytes)
        guard !o1 else { throw .shapeOverflow(dims) }
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
        if parameters.scaleType == .f16 {
            return Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: scalesOffset + 2 * s, as: UInt16.self))))
        }
        return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: scalesOffset + 4 * s, as: UInt32.self)))
    }

    /// Writes scale `s` into a payload being built, in the parameters' scale type (`value` must
    /// already be representable in it: `QuantizedScale.rounded`).
    @inline(__always)
    public func storeScale(_ value: Float, _ s: Int, into out: UnsafeMutableRawBufferPointer) {
        if parameters.scaleType == .f16 {
            out.storeBytes(of: Float16(value).bitPattern.littleEndian, toByteOffset: scalesOffset + 2 * s, as: UInt16.self)
        } else {
            out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: scalesOffset + 4 * s, as: UInt32.self)
        }
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
