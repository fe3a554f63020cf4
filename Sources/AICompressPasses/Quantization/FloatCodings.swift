import AICompressCore

// The float formats the cast schemes store, each with Core's conversions as its fast path
// (`FloatCast`); the plain reference (`FloatCastReference`) derives every value of a format from
// its field widths alone. A new cast scheme with a conversion of its own declares its coding
// beside its record in Schemes/.

/// IEEE 754 binary16 (5 exponent bits, 10 fraction bits), rounded to nearest even.
enum Binary16Coding: FloatCoding {
    static let format = FloatFormat(dtype: .f16, exponentBits: 5, mantissaBits: 10, onnxElementType: ONNXElementType.float16)
    static func encode(_ x: Float) -> UInt16 { x.float16Bits }
    static func decode(_ bits: UInt16) -> Float { Float(float16Bits: bits) }
}

/// bfloat16 (the upper half of a binary32: 8 exponent bits, 7 fraction bits), rounded to nearest
/// even.
enum BFloat16Coding: FloatCoding {
    static let format = FloatFormat(dtype: .bf16, exponentBits: 8, mantissaBits: 7, onnxElementType: ONNXElementType.bfloat16)
    static func encode(_ x: Float) -> UInt16 { x.bfloat16Bits }
    static func decode(_ bits: UInt16) -> Float { Float(bfloat16Bits: bits) }
}
