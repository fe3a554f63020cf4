import AICompressCore

extension QuantizationScheme {
    /// Unsigned 4-bit integers, two per byte, asymmetric (4-bit zero points, packed likewise), one
    /// scale per 32 weights along the input axis by default.
    public static let uint4 = QuantizationScheme.integer(
        "uint4", storage: .uint4, help: "Unsigned 4-bit integers, two per byte.", granularity: .group(32), symmetric: false,
        budget: ErrorBudget("UINT4_G32_GAUSSIAN_SQNR", minimumSQNR: 21.3),
        listing: [Listing(layout: "asymmetric, groups of 32, 4-bit zero points")])
}
