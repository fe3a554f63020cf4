import AICompressCore

/// One Float, or eight Float lanes, whose squares a pruning writer sums.
protocol SquareLanes {
    static var zeroLanes: Self { get }
    static func + (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    /// The sum of the lanes.
    var laneSum: Float { get }
}

extension Float: SquareLanes {
    static var zeroLanes: Float { 0 }
    var laneSum: Float { self }
}

extension SIMD8: SquareLanes where Scalar == Float {
    static var zeroLanes: SIMD8<Float> { SIMD8() }
    var laneSum: Float { sum() }
}

/// The pruning writers' Σx² and Σ(pruned x)² of one chunk: summed in Float (or Float lanes),
/// which is faster than Double, and added to the chunk's `ErrorFigures` every 4096 elements, which
/// keeps the rounding small. Every writer, plain, SIMD and AVX2 (`aic_prune_group` in
/// CKernels/prune_lanes.h), flushes after the same elements, so all give the same figures.
struct PartialSquares<Lanes: SquareLanes> {
    /// Σx² since the last flush.
    var signal = Lanes.zeroLanes
    /// Σ(pruned x)² since the last flush.
    var error = Lanes.zeroLanes

    /// Adds `x` to the signal sum.
    @inline(__always)
    mutating func add(_ x: Lanes) { signal = signal + x * x }

    /// Adds `x` to the signal sum and `lost` (what pruning took from it) to the error sum.
    @inline(__always)
    mutating func add(_ x: Lanes, lost: Lanes) {
        signal = signal + x * x
        error = error + lost * lost
    }

    /// Adds a pruned `x` to the error sum.
    @inline(__always)
    mutating func addLost(_ x: Lanes) { error = error + x * x }

    /// Flushes into `figures` when `next`, the index of the element after those added, starts a
    /// run of 4096.
    @inline(__always)
    mutating func flush(into figures: inout ErrorFigures, before next: Int) {
        if next & 4095 == 0 { flush(into: &figures) }
    }

    /// Adds the sums to `figures` and starts again from zero (at the end of a chunk).
    @inline(__always)
    mutating func flush(into figures: inout ErrorFigures) {
        figures.signal += Double(signal.laneSum)
        figures.error += Double(error.laneSum)
        signal = .zeroLanes
        error = .zeroLanes
    }
}
