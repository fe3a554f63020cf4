import Foundation

/// The figures of a `TextEvaluation`, as llama-perplexity prints them.
public struct TextEvaluationResult: Sendable, Equatable {
    /// Tokens of the whole text (BOS included when added).
    public var tokens: Int
    /// Chunks run.
    public var chunks: Int
    /// Tokens per chunk.
    public var context: Int
    /// Tokens scored (context − 1 − context/2 per chunk).
    public var scored: Int
    /// exp(mean negative log-likelihood).
    public var perplexity: Double
    /// Its standard error (perplexity × the error of the mean NLL).
    public var perplexityError: Double
    /// Tokens evaluated per second (chunks × context over the wall time, both models).
    public var tokensPerSecond: Double
    /// Wall time in seconds (tokenizing included).
    public var seconds: Double
    /// The comparison with the base model, when there was one.
    public var comparison: Comparison?

    /// KL divergence and token-probability statistics against the base model.
    public struct Comparison: Sendable, Equatable {
        /// The base model's perplexity and its error.
        public var basePerplexity: Double, basePerplexityError: Double
        /// Mean KL divergence (base → model) per token and its error.
        public var meanKLD: Double, meanKLDError: Double
        /// Percentiles of the per-token divergence: (label, fraction, value), maximum to minimum.
        public var kldPercentiles: [Percentile]
        /// Mean Δp (model − base probability of the right token) and its error.
        public var meanDeltaP: Double, meanDeltaPError: Double
        /// RMS of Δp and its error.
        public var rmsDeltaP: Double, rmsDeltaPError: Double
        /// Fraction of tokens where both models' most likely token is the same, and its error.
        public var sameTop: Double, sameTopError: Double
    }

    /// One percentile of a distribution.
    public struct Percentile: Sendable, Equatable {
        /// llama-perplexity's label (`Maximum`, `99.9%`, `Median`, …).
        public var label: String
        /// The value.
        public var value: Double
    }

    /// Sums over scored tokens (llama-perplexity's `kl_divergence_result` and nll/nll2).
    struct Accumulator {
        var nll = 0.0, nll2 = 0.0, count = 0
        var nllBase = 0.0, nllBase2 = 0.0, kld = 0.0, kld2 = 0.0
        var pDiff = 0.0, pDiff2 = 0.0, pDiff4 = 0.0, sameTop = 0
        var klds = [Float](), pDiffs = [Float]()
        let base: Bool

        init(base: Bool) { self.base = base }

        mutating func add(nll v: Double) {
            nll += v
            nll2 += v * v
            count += 1
        }

        mutating func add(_ c: TokenScores.Comparison) {
            nll += Double(c.nll)
            nll2 += Double(c.nll * c.nll)
            nllBase += Double(c.nllBase)
            nllBase2 += Double(c.nllBase * c.nllBase)
            kld += c.kld
            kld2 += c.kld * c.kld
            let d = Double(c.pDiff), d2 = d * d
            pDiff += d
            pDiff2 += d2
            pDiff4 += d2 * d2
            if c.sameTop { sameTop += 1 }
            klds.append(Float(c.kld))
            pDiffs.append(c.pDiff)
            count += 1
        }

        func result(tokens: Int, chunks: Int, context: Int, seconds: Double) -> TextEvaluationResult {
            let perplexity: Double, perplexityError: Double
            var comparison: Comparison? = nil
            if base {
                let (m, e) = TextEvaluation.meanAndError(nll, nll2, count)
                perplexity = Foundation.exp(m)
                perplexityError = perplexity * e
                let (mb, eb) = TextEvaluation.meanAndError(nllBase, nllBase2, count)
                let (k, ke) = TextEvaluation.meanAndError(kld, kld2, count)
                let (p, pe) = TextEvaluation.meanAndError(pDiff, pDiff2, count)
                let (mse, msee) = TextEvaluation.meanAndError(pDiff2, pDiff4, count)
                let rms = mse.squareRoot()
                let same = count > 0 ? Double(sameTop) / Double(count) : 0
                comparison = Comparison(
                    basePerplexity: Foundation.exp(mb), basePerplexityError: Foundation.exp(mb) * eb,
                    meanKLD: k, meanKLDError: ke, kldPercentiles: Accumulator.percentiles(klds),
                    meanDeltaP: p, meanDeltaPError: pe, rmsDeltaP: rms, rmsDeltaPError: rms > 0 ? 0.5 / rms * msee : 0,
                    sameTop: same, sameTopError: count > 1 ? (same * (1 - same) / Double(count - 1)).squareRoot() : 0)
            } else {
                // perplexity(): the error without the 11-sample floor.
                let m = nll / Double(max(1, count)), v = nll2 / Double(max(1, count)) - m * m
                perplexity = Foundation.exp(m)
                perplexityError = v > 0 && count > 1 ? (v / Double(count - 1)).squareRoot() * perplexity : 0
            }
            return TextEvaluationResult(tokens: tokens, chunks: chunks, context: context, scored: count,
                                        perplexity: perplexity, perplexityError: perplexityError,
                                        tokensPerSecond: seconds > 0 ? Double(chunks * context) / seconds : 0,
                                        seconds: seconds, comparison: comparison)
        }

        /// llama-perplexity's percentile table (linear interpolation between sorted values;
        /// the median as the mean of the middle two for an even count).
        static func percentiles(_ values: [Float]) -> [Percentile] {
            let v = values.sorted()
            guard !v.isEmpty else { return [] }
            func at(_ f: Float) -> Double {
                if f <= 0 { return Double(v[0]) }
                if f >= 1 { return Double(v[v.count - 1]) }
                var p = f * Float(v.count - 1)
                let ip = Int(p)
                p -= Float(ip)
                return Double((1 - p) * v[ip] + p * v[min(ip + 1, v.count - 1)])
            }
            let median = v.count % 2 == 0 ? Double(0.5 * (v[v.count / 2] + v[v.count / 2 - 1])) : Double(v[v.count / 2])
            return [Percentile(label: "Maximum", value: Double(v[v.count - 1])),
                    Percentile(label: "99.9%", value: at(0.999)), Percentile(label: "99.0%", value: at(0.990)),
                    Percentile(label: "95.0%", value: at(0.950)), Percentile(label: "90.0%", value: at(0.900)),
                    Percentile(label: "Median", value: median),
                    Percentile(label: "10.0%", value: at(0.100)), Percentile(label: "5.0%", value: at(0.050)),
                    Percentile(label: "1.0%", value: at(0.010)), Percentile(label: "0.1%", value: at(0.001)),
                    Percentile(label: "Minimum", value: Double(v[0]))]
        }
    }
}
