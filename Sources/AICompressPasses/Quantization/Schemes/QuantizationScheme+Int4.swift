import AICompressCore

extension QuantizationScheme {
    /// Signed 4-bit integers, two per byte, one f16 scale per 32 weights along the input axis by
    /// default (4.5 bits per weight, as llama.cpp's Q4_0): symmetric over all 16 levels [-8, 7]
    /// with a signed maximum, the scale of each group found by a least-squares search
    /// (`ClipMethod.leastSquares`), so the error is below Q4_0's at the same size.
    public static let int4 = QuantizationScheme.integer(
        "int4", storage: .int4, help: "Signed 4-bit integers, two per byte.", granularity: .group(32), symmetric: true,
        clip: .leastSquares, scaleType: .f16,
        budget: ErrorBudget("INT4_G32_GAUSSIAN_SQNR", minimumSQNR: 21.3),
        listing: [Listing(layout: "groups of 32, f16 scales, least squares over [-8, 7] (default)"),
                  Listing(flags: " --group-size 128", granularity: .group(128), layout: "groups of 128, f16 scales, least squares"),
                  Listing(flags: " --scale-type f32", scaleType: .f32, layout: "groups of 32, f32 scales, least squares"),
                  Listing(flags: " --clip minmax --scale-type f32", clip: .minMax, scaleType: .f32,
                          layout: "groups of 32, f32 scales, min-max over [-7, 7] (before 12/2026)")])
}
