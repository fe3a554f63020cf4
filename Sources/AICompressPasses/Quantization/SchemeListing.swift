#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AICompressCore

/// What `quantize --list` shows (as llama.cpp's quantize lists its types): every listing row of
/// every scheme, measured now on fixed pseudo-random N(0, 1) weights of `shape`. The schemes'
/// error budgets are stated on the same weights.
public enum SchemeListing {
    /// One row: the flags, the layout text and the pass's report on the weights.
    public struct Row: Sendable {
        /// The scheme's flag name and any extra flags, e.g. `int8 --per-tensor`.
        public let label: String
        /// The layout column.
        public let layout: String
        /// The report of quantizing the weights this way.
        public let report: TensorReport
    }

    /// The shape of the measured weights: [256, 4096].
    public static let shape: Shape = [256, 4096]

    /// The first `count` weights of the fixed N(0, 1) sequence: Box–Muller from xorshift64.
    public static func weights(count: Int) -> [Float] {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let u1 = Float(state >> 40) / Float(1 << 24) + 1e-7
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let u2 = Float(state >> 40) / Float(1 << 24)
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
    }

    /// llama.cpp block types measured beside the schemes, for comparison (`quantize --gguf`).
    public static let comparedGGMLTypes: [(GGMLType, String)] = [
        (.q4_0, "llama.cpp Q4_0: blocks of 32, f16 scale, signed max over [-8, 7]"),
        (.q4_1, "llama.cpp Q4_1: blocks of 32, f16 scale and min"),
        (.q5_0, "llama.cpp Q5_0: blocks of 32, f16 scale, 5 bits"),
        (.q3_K, "llama.cpp Q3_K (Q3_K_S/M/L): 256-value super-blocks, 6-bit scales of 16, 3 bits"),
        (.q2_K, "llama.cpp Q2_K (Q2_K, Q2_K_S): 256-value super-blocks, 4-bit scales and mins of 16, 2 bits"),
    ]

    /// Every row of every scheme in `schemes`, in table order, then (with `ggml`) the rows of
    /// `comparedGGMLTypes`.
    /// - Throws: what `Quantize.quantize` throws (nothing for these weights).
    public static func rows(of schemes: [QuantizationScheme] = QuantizationScheme.all, ggml: Bool = true) throws -> [Row] {
        let values = weights(count: shape.elementCount)
        let t = try Tensor(name: "w", shape: shape, floats: values)
        var rows: [Row] = []
        for scheme in schemes {
            for listing in scheme.listing {
                let pass = Quantize(scheme: scheme, granularity: listing.granularity, symmetric: listing.symmetric,
                                    clip: listing.clip, scaleType: listing.scaleType)
                let (_, report) = try pass.quantize(t, role: .outputFirst)
                rows.append(Row(label: scheme.id + listing.flags, layout: listing.layout, report: report))
            }
        }
        guard ggml else { return rows }
        for (type, layout) in comparedGGMLTypes {
            let bytes = try type.quantize(values)
            let back = GGMLLayout.decode(type, TensorData(bytes: bytes), count: values.count)
            var figures = ErrorFigures()
            back.withUnsafeBytes { raw in
                for (k, x) in values.enumerated() {
                    figures.add(original: Double(x), changed: Double(raw.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)))
                }
            }
            let report = TensorReport(name: "w", scheme: type.name, bytesBefore: 4 * values.count, bytesAfter: bytes.count, figures: figures)
            rows.append(Row(label: "gguf " + type.name, layout: layout, report: report))
        }
        return rows
    }
}
