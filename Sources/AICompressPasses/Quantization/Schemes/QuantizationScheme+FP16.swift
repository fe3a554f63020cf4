import AICompressCore

extension QuantizationScheme {
    /// IEEE 754 binary16 (5 exponent bits, 10 fraction bits), rounded to nearest even.
    public static let fp16 = QuantizationScheme.float(
        "fp16", coding: Binary16Coding.self, help: "IEEE half-precision floats.",
        budget: ErrorBudget("FP16_GAUSSIAN_SQNR", minimumSQNR: 73.0),
        listing: [Listing(layout: "IEEE half precision, round to nearest even")])
}
