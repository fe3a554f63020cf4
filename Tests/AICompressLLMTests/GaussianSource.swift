import AICompressCore
import Foundation

/// Normal samples (Box–Muller) from a seeded SplitMix64: the weights of the tiny random models.
struct GaussianSource {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// `n` samples of N(mean, scale²).
    mutating func values(_ n: Int, _ scale: Float, _ mean: Float = 0) -> [Float] {
        (0..<n).map { _ in
            let u1 = max(1e-12, Double(rng.next() >> 11) / Double(1 << 53)), u2 = Double(rng.next() >> 11) / Double(1 << 53)
            return mean + scale * Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
        }
    }
}
