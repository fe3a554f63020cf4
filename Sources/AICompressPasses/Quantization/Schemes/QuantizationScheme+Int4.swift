import AICompressCore

extension QuantizationScheme {
    /// Signed 4-bit integers, two per byte, symmetric (range [-7, 7]), one scale per 32 weights
    /// along the input axis by default.
    public static let int4 = QuantizationScheme.integer(
        "int4", storage: .int4, help: "Signed 4-bit integers, two per byte.", granularity: .group(32), symmetric: true,
        budget: ErrorBudget("INT4_G32_GAUSSIAN_SQNR", minimumSQNR: 19.8),
        listing: [Listing(layout: "symmetric, groups of 32 along the input"),
                  Listing(flags: " --group-size 128", granularity: .group(128), layout: "symmetric, groups of 128")])
}
