import AICompressCore

extension QuantizationScheme {
    /// bfloat16 (the upper half of a binary32: 8 exponent bits, 7 fraction bits), rounded to
    /// nearest even.
    public static let bf16 = QuantizationScheme.float(
        "bf16", coding: BFloat16Coding.self, help: "bfloat16 floats.",
        budget: ErrorBudget("BF16_GAUSSIAN_SQNR", minimumSQNR: 55.0),
        listing: [Listing(layout: "bfloat16, round to nearest even")])
}
