import AICompressCore

extension QuantizationScheme {
    /// Signed 8-bit integers, symmetric (zero point 0, range [-127, 127]), one scale per output
    /// channel by default: onnxruntime's quantize_dynamic, bit for bit.
    public static let int8 = QuantizationScheme.integer(
        "int8", storage: .int8, help: "Signed 8-bit integers (default).", granularity: .perChannel, symmetric: true,
        budget: ErrorBudget("INT8_PER_CHANNEL_GAUSSIAN_SQNR", minimumSQNR: 40.5),
        listing: [Listing(layout: "symmetric, per output channel (default)"),
                  Listing(flags: " --per-tensor", granularity: .perTensor, layout: "symmetric, one scale")])
}
