import AICompressCore

/// The least-squares scale search of `ClipMethod.leastSquares` (the fast path's; the plain twin is
/// `IntegerReference.leastSquares`), after llama.cpp's make_qx_quants (ggml-quants.c): try a few
/// scales near the range's, fit each one's integers by (weighted) least squares, and keep the
/// scale whose stored value (rounded to the scale type) gives the least (weighted) squared error.
///
/// Symmetric signed storage uses every level, [-2^(b-1), 2^(b-1) - 1], with a signed maximum as
/// Q4_0 does: the value of largest magnitude maps to -2^(b-1), so the scale is negative when that
/// value is positive. The first candidate is exactly Q4_0's scale (max / -8 for int4), so the
/// search never returns a worse group than that scale. Other storage (a zero point, or unsigned)
/// starts from the min-max range and tries it shrunk in 1% steps, each with its integers refitted.
///
/// With `weights` (per value, e.g. an importance matrix's mean squared input of each column), every
/// candidate is fitted twice, with and without the weights, and judged by the weighted error: the
/// candidates of the unweighted search are a subset, so the weighted search never has a higher
/// weighted error than the unweighted one on the same group. Ties keep the earlier candidate.
enum LeastSquaresScale {
    /// Signed candidates: the inverse scale -(2^(b-1) + k / 10) / max for these k.
    static let tenths = -9...9
    /// Zero-point candidates: the min-max range shrunk by these percentages.
    static let shrinkPercents = 0...20

    /// Scale and zero point of one group.
    static func parameters(_ x: UnsafeBufferPointer<Float>, weights w: UnsafeBufferPointer<Float>?,
                           storage: QuantizedStorage, symmetric: Bool, scaleType: QuantizedScale) -> QuantParams {
        guard !x.isEmpty else { return QuantParams(scale: 1, zeroPoint: 0) }
        if symmetric && storage.isSigned { return signedMaximum(x, weights: w, storage: storage, scaleType: scaleType) }
        return zeroPoint(x, weights: w, storage: storage, symmetric: symmetric, scaleType: scaleType)
    }

    /// Σ w (x − (q − z)·s)² with q = clamp(round(x / s) + z), as the quantizer will store it.
    @inline(__always)
    static func error(_ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>?, scale s: Float, zeroPoint z: Float,
                      low: Float, high: Float) -> Double {
        var e = 0.0
        for i in 0..<x.count {
            let q = min(max((x[i] / s).rounded(.toNearestOrEven) + z, low), high)
            let d = Double(x[i]) - Double((q - z) * s)
            e += (w.map { Double($0[i]) } ?? 1) * d * d
        }
        return e
    }

    /// The sums of the least-squares scale Σwxl / Σwl² for the levels l = `level(x)` (zero point
    /// taken off): weighted first when there are weights, then unweighted.
    @inline(__always)
    static func fits(_ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>?,
                     _ level: (Float) -> Float) -> [(Double, Double)] {
        var wlx = 0.0, wl2 = 0.0, lx = 0.0, l2 = 0.0
        for i in 0..<x.count {
            let q = Double(level(x[i]))
            let v = Double(x[i])
            if let w {
                wlx += Double(w[i]) * v * q
                wl2 += Double(w[i]) * q * q
            }
            lx += v * q
            l2 += q * q
        }
        return w == nil ? [(lx, l2)] : [(wlx, wl2), (lx, l2)]
    }

    static func signedMaximum(_ x: UnsafeBufferPointer<Float>, weights w: UnsafeBufferPointer<Float>?,
                              storage: QuantizedStorage, scaleType: QuantizedScale) -> QuantParams {
        let nmax = 1 << (storage.bits - 1)
        let low = Float(-nmax), high = Float(nmax - 1)
        var m: Float = 0, amax: Float = 0
        for v in x where abs(v) > amax {
            amax = abs(v)
            m = v
        }
        guard amax >= Float.leastNormalMagnitude else { return QuantParams(scale: 1, zeroPoint: 0) }
        var best = scaleType.rounded(m / Float(-nmax))
        // Overflow is refused by the caller; a scale that rounds to zero keeps values near zero.
        guard best.isFinite else { return QuantParams(scale: best, zeroPoint: 0) }
        guard best != 0 else { return QuantParams(scale: 1, zeroPoint: 0) }
        var bestError = error(x, w, scale: best, zeroPoint: 0, low: low, high: high)
        for k in tenths {
            let inverse = -Float(10 * nmax + k) / (10 * m)
            for (a, b) in fits(x, w, { min(max(($0 * inverse).rounded(.toNearestOrEven), low), high) }) where b > 0 {
                let s = scaleType.rounded(Float(a / b))
                guard s != 0, s.isFinite else { continue }
                let e = error(x, w, scale: s, zeroPoint: 0, low: low, high: high)
                if e < bestError {
                    best = s
                    bestError = e
                }
            }
        }
        return QuantParams(scale: best, zeroPoint: 0)
    }

    static func zeroPoint(_ x: UnsafeBufferPointer<Float>, weights w: UnsafeBufferPointer<Float>?, storage: QuantizedStorage,
                          symmetric: Bool, scaleType: QuantizedScale) -> QuantParams {
        let low = Float(storage.qmin), high = Float(storage.qmax)
        var lo = x[0], hi = x[0]
        for v in x {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        let full = QuantizationMath.parameters(rmin: lo, rmax: hi, storage: storage, symmetric: symmetric)
        // Overflow is refused by the caller.
        guard scaleType.rounded(full.scale).isFinite else { return QuantParams(scale: .infinity, zeroPoint: full.zeroPoint) }
        var best: QuantParams? = nil
        var bestError = Double.infinity
        func consider(_ s: Float, _ z: Int) {
            guard s > 0, s.isFinite else { return }
            let e = error(x, w, scale: s, zeroPoint: Float(z), low: low, high: high)
            if best == nil || e < bestError {
                best = QuantParams(scale: s, zeroPoint: z)
                bestError = e
            }
        }
        for percent in shrinkPercents {
            let r = Float(100 - percent) / 100
            let c = QuantizationMath.parameters(rmin: lo * r, rmax: hi * r, storage: storage, symmetric: symmetric)
            let z = Float(c.zeroPoint)
            consider(scaleType.rounded(c.scale), c.zeroPoint)
            for (a, b) in fits(x, w, { min(max(($0 / c.scale).rounded(.toNearestOrEven) + z, low), high) - z }) where b > 0 {
                consider(scaleType.rounded(Float(a / b)), c.zeroPoint)
            }
        }
        // Nothing usable (every candidate rounded to zero): values this small quantize to 0.
        return best ?? QuantParams(scale: 1, zeroPoint: full.zeroPoint)
    }
}
