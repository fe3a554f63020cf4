import AICompressCore
@testable import AICompressPasses

/// Deterministic, roughly Gaussian values: each the sum of four xorshift64 uniforms on
/// [-0.5, 0.5), times `scale` (so mean 0, standard deviation about 0.58 × scale, |x| < 2 × scale).
func gaussianValues(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var s = seed | 1
    return (0..<n).map { _ in
        var acc: Float = 0
        for _ in 0..<4 {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            acc += Float(s >> 40) / Float(1 << 24) - 0.5
        }
        return acc * scale
    }
}
