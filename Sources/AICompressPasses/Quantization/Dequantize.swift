import AICompressCore

/// Turns quantized tensors back into dense floats of their dtype (`aicompress dequantize`).
public struct Dequantize: ConfigurablePass {
    /// `dequantize`.
    public static let stepName = "dequantize"
    /// None: every quantized tensor is turned back.
    public static let declaredParameters: [PassParameter] = []

    /// The pass.
    public init() {}
    /// The pass (it takes no parameters).
    public init(parameters: PassParameters) throws { self.init() }
    /// No values.
    public var parameterValues: PassParameters { PassParameters() }
    /// No provenance words.
    public var parameters: [(String, String)] { [] }

    /// The per-tensor transform (the model is not looked at).
    public func prepare(_ model: Model) throws -> any TensorTransform { Transform() }

    struct Transform: TensorTransform {
        func transform(_ stored: Tensor) throws -> (Tensor, TensorReport?) {
            if stored.ggmlType != nil {
                let t = stored, out = try t.densified()
                return (out, TensorReport(name: t.name, scheme: "dequantize \(t.encoding)", bytesBefore: t.storedBytes,
                                          bytesAfter: out.storedBytes, elements: t.elementCount, signalEnergy: 0,
                                          errorEnergy: 0, maxAbsError: 0, zerosAfter: 0))
            }
            // A sparse + quantized tensor: its quantized form, and sparse f32 again when smaller.
            let wasSparse = stored.sparseQuantizedLayout != nil
            let t = try stored.expandedQuantized()
            guard let layout = t.quantizedLayout else { return (t, nil) }
            let n = t.elementCount
            let width = t.dtype.bits / 8
            let buffer = ByteBuffer.build(count: n * width) { out in
                nonisolated(unsafe) let dst = out.baseAddress!
                t.data.withUnsafeBytes { raw in
                    nonisolated(unsafe) let src = raw
                    let chunk = 1 << 16
                    Parallel.forEach((n + chunk - 1) / chunk) { c in
                        for k in (c * chunk)..<min(n, (c + 1) * chunk) {
                            let v = layout.value(src, k)
                            switch t.dtype {
                            case .f32: dst.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self)
                            case .f64: dst.storeBytes(of: Double(v).bitPattern.littleEndian, toByteOffset: 8 * k, as: UInt64.self)
                            case .f16: dst.storeBytes(of: v.float16Bits.littleEndian, toByteOffset: 2 * k, as: UInt16.self)
                            default: dst.storeBytes(of: v.bfloat16Bits.littleEndian, toByteOffset: 2 * k, as: UInt16.self)
                            }
                        }
                    }
                }
            }
            var out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, data: TensorData(buffer))
            if wasSparse {
                let sparse = out.data.withUnsafeBytes { SparseLayout.encode(dense: $0, dtype: out.dtype, count: n) }
                if SparseLayout.isWorthIt(dtype: out.dtype, count: n, nonZeros: sparse.nonZeros) {
                    out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, encoding: .sparse(nonZeros: sparse.nonZeros),
                                     data: TensorData(sparse.payload))
                }
            }
            let report = TensorReport(name: t.name, scheme: "dequantize \(stored.encoding)", bytesBefore: stored.storedBytes,
                                      bytesAfter: out.storedBytes, elements: n, signalEnergy: 0, errorEnergy: 0,
                                      maxAbsError: 0, zerosAfter: 0)
            return (out, report)
        }
    }
}
