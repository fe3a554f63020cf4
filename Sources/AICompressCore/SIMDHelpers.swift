/// Lane-wise min/max that compile to compare-and-blend instructions. (The standard library's
/// generic `pointwiseMin`/`pointwiseMax` are not inlined into hot loops here and run lane by
/// lane: profiles showed them at half of the quantizer's time.)
@inlinable @inline(__always)
public func lanewiseMin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }

@inlinable @inline(__always)
public func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
