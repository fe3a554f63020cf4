import AICompressCore

extension QuantizationScheme {
    /// Unsigned 8-bit integers, asymmetric (an 8-bit zero point per scale), one scale per output
    /// channel by default.
    public static let uint8 = QuantizationScheme.integer(
        "uint8", storage: .uint8, help: "Unsigned 8-bit integers.", granularity: .perChannel, symmetric: false,
        budget: ErrorBudget("UINT8_PER_CHANNEL_GAUSSIAN_SQNR", minimumSQNR: 41.0),
        listing: [Listing(layout: "asymmetric, per output channel")])
}
