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

    /// Every row of every scheme in `schemes`, in table order.
    /// - Throws: what `Quantize.quantize` throws (nothing for these weights).
    public static func rows(of schemes: [QuantizationScheme] = QuantizationScheme.all) throws -> [Row] {
        let t = try Tensor(name: "w", shape: shape, floats: weights(count: shape.elementCount))
        var rows: [Row] = []
        for scheme in schemes {
            for listing in scheme.listing {
                let (_, report) = try Quantize(scheme: scheme, granularity: listing.granularity).quantize(t, role: .outputFirst)
                rows.append(Row(label: scheme.id + listing.flags, layout: listing.layout, report: report))
            }
        }
        return rows
    }
}
