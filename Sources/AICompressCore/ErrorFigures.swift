#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How far changed values are from their originals: Σx², Σ(x − x̂)², max |x − x̂|, the changed
/// values that are exactly zero, and the element count. One accumulator for every figure of that
/// kind (quantization, casts, `diff`, `report`, pipeline reports), so SQNR and relative error are
/// computed one way everywhere. Partial figures (one per chunk or core) are combined with `merge`.
public struct ErrorFigures: Sendable, Equatable {
    /// Σx² over the original values.
    public var signal = 0.0
    /// Σ(x − x̂)².
    public var error = 0.0
    /// The largest |x − x̂|.
    public var maxAbs = 0.0
    /// Changed values that are exactly zero.
    public var zerosAfter = 0
    /// Values compared.
    public var elements = 0

    /// Figures of nothing compared yet.
    public init() {}

    /// Figures with the given totals.
    public init(signal: Double, error: Double, maxAbs: Double, zerosAfter: Int, elements: Int) {
        self.signal = signal
        self.error = error
        self.maxAbs = maxAbs
        self.zerosAfter = zerosAfter
        self.elements = elements
    }

    /// Adds one original value `x` and what it became, `changed`, in Double. Inlinable: the
    /// quantizers call it per value from other modules.
    @inlinable @inline(__always)
    public mutating func add(original x: Double, changed: Double) {
        let d = x - changed
        signal += x * x
        error += d * d
        maxAbs = Swift.max(maxAbs, abs(d))
        if changed == 0 { zerosAfter += 1 }
        elements += 1
    }

    /// Adds the figures of other values (another chunk of the same tensor).
    @inlinable
    public mutating func merge(_ other: ErrorFigures) {
        signal += other.signal
        error += other.error
        maxAbs = Swift.max(maxAbs, other.maxAbs)
        zerosAfter += other.zerosAfter
        elements += other.elements
    }

    /// ‖x − x̂‖ / ‖x‖ (infinite when the original is all zeros and the changed values are not).
    public var relativeError: Double { signal > 0 ? (error / signal).squareRoot() : (error > 0 ? .infinity : 0) }

    /// Signal-to-quantization-noise ratio, 10·log10(Σx² / Σ(x − x̂)²) in dB; infinite when exact.
    public var sqnr: Double { error > 0 ? 10 * log10(signal / error) : .infinity }
}
