import AICompressCore

extension QuantizationScheme {
    /// IEEE 754 binary16 (5 exponent bits, 10 fraction bits), rounded to nearest even.
    public static let fp16 = QuantizationScheme.float(
        "fp16", format: FloatFormat(dtype: .f16, exponentBits: 5, mantissaBits: 10, onnxElementType: 10),
        coding: Binary16Coding.self, help: "IEEE half-precision floats.",
        budget: ErrorBudget("FP16_GAUSSIAN_SQNR", minimumSQNR: 73.0),
        listing: [Listing(layout: "IEEE half precision, round to nearest even")])
}

/// Core's binary16 conversions, for the fast path.
private enum Binary16Coding: FloatCoding {
    static func encode(_ x: Float) -> UInt16 { x.float16Bits }
    static func decode(_ bits: UInt16) -> Float { Float(float16Bits: bits) }
}
