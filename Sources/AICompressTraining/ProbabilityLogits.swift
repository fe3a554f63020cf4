import Foundation

/// Probabilities used where logits are expected: log p is a logit vector whose softmax is p
/// (for rows summing to 1), so cross-entropy and distillation from logits apply to log p
/// unchanged. Used for models whose output is probabilities with no pre-softmax value in the
/// graph (skl2onnx's LinearClassifier + Normalizer), and for teachers whose outputs are.
public enum ProbabilityLogits {
    /// Probabilities are clamped to at least this before the log: a float32 probability below
    /// it is zero or subnormal, so the clamp changes nothing a float32 probability can tell
    /// apart, and log 0 = −∞ never enters a loss (log of the floor: −87.3).
    public static let floor = Float.leastNormalMagnitude

    /// Tolerance on a row's sum when deciding from values whether they are probabilities:
    /// float32 softmax rows sum to 1 within about 1e-6 per class.
    public static let sumTolerance: Float = 1e-3

    /// log(max(p, floor)) of every value.
    public static func logits(_ p: [Float]) -> [Float] { p.map { Foundation.log(max($0, floor)) } }

    /// The gradient with respect to p of a loss whose gradient with respect to log p is `g`:
    /// g / p, and zero where p was clamped (the loss does not move with p there).
    public static func gradient(_ g: [Float], probabilities p: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: g.count)
        for i in out.indices where p[i] > floor { out[i] = g[i] / p[i] }
        return out
    }

    /// Whether every row of `values` (`perRow` each) lies in [0, 1] and sums to 1: the outputs
    /// of a model that gives probabilities, whatever its graph looks like.
    public static func areProbabilities(_ values: [Float], perRow: Int) -> Bool {
        guard perRow > 1, !values.isEmpty, values.count % perRow == 0 else { return false }
        var r = 0
        while r < values.count {
            var sum: Float = 0
            for v in values[r..<(r + perRow)] {
                guard v >= 0 && v <= 1 else { return false }
                sum += v
            }
            guard abs(sum - 1) <= sumTolerance else { return false }
            r += perRow
        }
        return true
    }
}
