import AICompressCore

extension QuantizationScheme {
    /// bfloat16 (the upper half of a binary32: 8 exponent bits, 7 fraction bits), rounded to
    /// nearest even.
    public static let bf16 = QuantizationScheme.float(
        "bf16", format: FloatFormat(dtype: .bf16, exponentBits: 8, mantissaBits: 7, onnxElementType: 16),
        coding: BFloat16Coding.self, help: "bfloat16 floats.",
        budget: ErrorBudget("BF16_GAUSSIAN_SQNR", minimumSQNR: 55.0),
        listing: [Listing(layout: "bfloat16, round to nearest even")])
}

/// Core's bfloat16 conversions, for the fast path.
private enum BFloat16Coding: FloatCoding {
    static func encode(_ x: Float) -> UInt16 { x.bfloat16Bits }
    static func decode(_ bits: UInt16) -> Float { Float(bfloat16Bits: bits) }
}
