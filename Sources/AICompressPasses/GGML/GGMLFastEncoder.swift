import AICompressCore
import CKernels

/// The AVX2 twins of ggml's K-quant reference quantizers (Sources/CKernels/ggml_kquants_avx2.c
/// and ggml_lowbit_avx2.c) for the types llama-quantize's mixes spend their time in (Q2_K, Q3_K,
/// Q4_K, Q5_K, Q6_K); every other type, and every CPU without AVX2, goes through
/// `GGMLType.quantize` (Swift). The plain twins are
/// AICompressCore's scalar `GGMLKQuantizer` and `GGMLLowBitKQuantizer`; `GGMLKernelTests`
/// holds the two to the same bytes.
enum GGMLFastEncoder {
    static let avx2 = aic_kquant_avx2_available() != 0
    /// Whether f16 inputs are widened with F16C (`aic_f16_to_f32_f16c`).
    static let f16c = aic_f16c_available() != 0

    /// Whether `encode` has a C kernel for `type` on this CPU.
    static func hasKernel(_ type: GGMLType) -> Bool { avx2 && [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K].contains(type) }

    /// Encodes whole blocks of `values` into `out` (sizes as `GGMLType.quantize(_:into:)`).
    /// - Throws: `GGMLError` from the Swift path (the C path's sizes are checked the same way).
    static func encode(_ type: GGMLType, _ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawBufferPointer) throws(GGMLError) {
        guard hasKernel(type), let x = values.baseAddress, let y = out.baseAddress else {
            return try type.quantize(values, into: out)
        }
        guard values.count % 256 == 0 else { throw .valuesNotWholeBlocks(type: type, values: values.count) }
        let blocks = values.count / 256
        guard out.count == blocks * type.bytesPerBlock else { throw .sizeMismatch(type: type, values: values.count, bytes: out.count) }
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        switch type {
        case .q2_K: aic_quantize_q2_K_avx2(x, bytes, Int64(blocks))
        case .q3_K: aic_quantize_q3_K_avx2(x, bytes, Int64(blocks))
        case .q6_K: aic_quantize_q6_K_avx2(x, bytes, Int64(blocks))
        default: aic_quantize_q4_K_avx2(x, bytes, Int64(blocks), type == .q5_K ? 1 : 0)
        }
    }

    /// Whether `encode(_:_:rowLength:importance:into:)` has a C kernel for `type` on this CPU.
    static func hasWeightedKernel(_ type: GGMLType) -> Bool { avx2 && (type == .q2_K || type == .q3_K) }

    /// Encodes rows as llama-quantize --imatrix does (sizes and bytes as
    /// `GGMLType.quantize(_:rowLength:importance:into:)`, the plain twin, whose code runs for
    /// every other type and on every CPU without AVX2).
    /// - Throws: `GGMLError` as that function.
    static func encode(_ type: GGMLType, _ values: UnsafeBufferPointer<Float>, rowLength: Int, importance: UnsafeBufferPointer<Float>,
                       into out: UnsafeMutableRawBufferPointer) throws(GGMLError) {
        guard hasWeightedKernel(type), let x = values.baseAddress, let qw = importance.baseAddress, let y = out.baseAddress else {
            return try type.quantize(values, rowLength: rowLength, importance: importance, into: out)
        }
        guard rowLength > 0, rowLength % 256 == 0, values.count % rowLength == 0 else {
            throw .valuesNotWholeBlocks(type: type, values: rowLength)
        }
        guard out.count == values.count / 256 * type.bytesPerBlock else {
            throw .sizeMismatch(type: type, values: values.count, bytes: out.count)
        }
        guard importance.count == rowLength else { throw .sizeMismatch(type: type, values: rowLength, bytes: importance.count) }
        let blocks = rowLength / 256, rowBytes = blocks * type.bytesPerBlock
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        for r in 0..<(values.count / rowLength) {
            if type == .q2_K {
                aic_quantize_q2_K_weighted_avx2(x + r * rowLength, qw, bytes + r * rowBytes, Int64(blocks))
            } else {
                aic_quantize_q3_K_weighted_avx2(x + r * rowLength, qw, bytes + r * rowBytes, Int64(blocks))
            }
        }
    }
}
