#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How far a tensor's values moved from an original of the same shape: the figures `diff`,
/// `report` and the pipeline's per-tensor report show. Any dtype and encoding (sparse tensors
/// and ggml ones are expanded once, quantized ones dequantized), compared in Double a chunk at a time.
public struct TensorDifference: Sendable, Equatable {
    /// Σx² over the original, Σ(x − y)², max |x − y|, and elements of the changed tensor that are zero.
    public var signal = 0.0, error = 0.0, maxAbs = 0.0, zerosAfter = 0
    public var elements = 0

    /// ‖x − y‖ / ‖x‖ (infinite when the original is all zeros and the other is not).
    public var relativeError: Double { signal > 0 ? (error / signal).squareRoot() : (error > 0 ? .infinity : 0) }
    /// 10·log10(Σx² / Σ(x − y)²) in dB, infinite when the values are equal.
    public var sqnr: Double { error > 0 ? 10 * log10(signal / error) : .infinity }

    /// nil when the shapes differ.
    public init?(original: Tensor, changed: Tensor) {
        guard original.shape == changed.shape else { return nil }
        func expanded(_ t: Tensor) -> Tensor {
            switch t.encoding {
            case .sparse, .ggml: return (try? t.densified()) ?? t
            case .dense, .quantized: return t
            }
        }
        let a = expanded(original), b = expanded(changed)
        let n = a.elementCount, step = 1 << 16
        elements = n
        var start = 0
        while start < n {
            let range = start..<min(n, start + step)
            var x: [Double] = [], y: [Double] = []
            ElementDecoder.forEachChunk(of: a, range: range, chunk: range.count) { x = $0 }
            ElementDecoder.forEachChunk(of: b, range: range, chunk: range.count) { y = $0 }
            for (u, v) in zip(x, y) {
                signal += u * u
                let d = u - v
                error += d * d
                maxAbs = Swift.max(maxAbs, abs(d))
                if v == 0 { zerosAfter += 1 }
            }
            start += step
        }
    }
}
