import AICompressCore

/// Scale and zero point of one quantization group.
public struct QuantParams: Sendable, Equatable {
    /// The scale (negative for a signed maximum, `ClipMethod.leastSquares`).
    public var scale: Float
    /// The zero point, in the storage type's range.
    public var zeroPoint: Int
}

/// The quantization arithmetic, following onnxruntime's quantizer (quant_utils.py:
/// compute_scale_zp, quantize_nparray) so that int8/uint8 results match it bit for bit:
/// the range is widened to include 0 (zero is exactly representable), the scale is computed in
/// double precision and stored as float, values are divided by the float scale, rounded half
/// to even, shifted by the zero point and clipped to the type's full range.
public enum QuantizationMath {
    /// Scale and zero point for values in [rmin, rmax].
    /// - Parameter symmetric: use [-absmax, absmax]; signed types then use the symmetric range
    ///   (int8 [-127, 127], int4 [-7, 7]) and a zero point of 0.
    public static func parameters(rmin: Float, rmax: Float, storage: QuantizedStorage, symmetric: Bool) -> QuantParams {
        var lo = min(rmin, 0), hi = max(rmax, 0)
        let range = symmetric ? storage.symmetricRange : storage.qmin...storage.qmax
        if symmetric {
            let absmax = max(abs(lo), abs(hi))
            lo = -absmax
            hi = absmax
        }
        let qmin = Double(range.lowerBound), qmax = Double(range.upperBound)
        let scale = (Double(hi) - Double(lo)) / (qmax - qmin)
        guard scale >= Double(Float.leastNormalMagnitude) else { return QuantParams(scale: 1, zeroPoint: 0) }
        let zp: Double = symmetric ? ((qmin + qmax) / 2).rounded(.toNearestOrEven)
                                   : (qmin - Double(lo) / scale).rounded(.toNearestOrEven)
        return QuantParams(scale: Float(scale), zeroPoint: Int(zp))
    }

    /// The stored integer for `x`.
    @inline(__always)
    public static func quantize(_ x: Float, _ p: QuantParams, _ storage: QuantizedStorage) -> Int {
        let q = (x / p.scale).rounded(.toNearestOrEven) + Float(p.zeroPoint)
        return Int(min(max(q, Float(storage.qmin)), Float(storage.qmax)))
    }

    /// The value an integer stands for, as DequantizeLinear computes it.
    @inline(__always)
    public static func dequantize(_ q: Int, _ p: QuantParams) -> Float {
        Float(q - p.zeroPoint) * p.scale
    }

    /// `p` with its scale as `scaleType` stores it; a scale that rounds to zero becomes 1 (the
    /// values are then too small to be anything but 0, as onnxruntime's convention for a range
    /// below the smallest normal float). Overflow stays infinite, for the caller to refuse.
    public static func stored(_ p: QuantParams, _ scaleType: QuantizedScale) -> QuantParams {
        let s = scaleType.rounded(p.scale)
        return QuantParams(scale: s == 0 ? 1 : s, zeroPoint: p.zeroPoint)
    }

    /// Parameters for a group under a clipping method, the scale as `scaleType` stores it.
    /// `weights` (one per value) weight the error that `leastSquares` minimises; the range
    /// methods ignore them.
    public static func parameters(
        group: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Float>? = nil, storage: QuantizedStorage,
        symmetric: Bool, clip: ClipMethod, scaleType: QuantizedScale = .f32
    ) -> QuantParams {
        if clip == .leastSquares {
            return LeastSquaresScale.parameters(group, weights: weights, storage: storage, symmetric: symmetric, scaleType: scaleType)
        }
        return stored(rangeParameters(group: group, storage: storage, symmetric: symmetric, clip: clip), scaleType)
    }

    /// Parameters for a group under a range method, the scale in f32.
    static func rangeParameters(
        group: UnsafeBufferPointer<Float>, storage: QuantizedStorage, symmetric: Bool, clip: ClipMethod
    ) -> QuantParams {
        guard !group.isEmpty else { return parameters(rmin: 0, rmax: 0, storage: storage, symmetric: symmetric) }
        switch clip {
        case .leastSquares:
            return LeastSquaresScale.parameters(group, weights: nil, storage: storage, symmetric: symmetric, scaleType: .f32)
        case .minMax:
            var lo = group[0], hi = group[0]
            for v in group {
                lo = min(lo, v)
                hi = max(hi, v)
            }
            return parameters(rmin: lo, rmax: hi, storage: storage, symmetric: symmetric)
        case .percentile(let p):
            if symmetric {
                let mags = group.map { abs($0) }.sorted()
                let m = mags[rank(p, mags.count)]
                return parameters(rmin: -m, rmax: m, storage: storage, symmetric: true)
            }
            let sorted = group.sorted()
            return parameters(rmin: sorted[rank(100 - p, sorted.count)], rmax: sorted[rank(p, sorted.count)],
                              storage: storage, symmetric: false)
        case .mse:
            var lo = group[0], hi = group[0]
            for v in group {
                lo = min(lo, v)
                hi = max(hi, v)
            }
            var best = parameters(rmin: lo, rmax: hi, storage: storage, symmetric: symmetric)
            var bestError = squaredError(group, best, storage)
            // Shrink the range in 1% steps down to half and keep the best (ties keep the wider).
            for step in 1...50 {
                let r = Float(100 - step) / 100
                let p = parameters(rmin: lo * r, rmax: hi * r, storage: storage, symmetric: symmetric)
                let e = squaredError(group, p, storage)
                if e < bestError {
                    best = p
                    bestError = e
                }
            }
            return best
        }
    }

    /// Nearest-rank index of percentile `p` (0...100) among `n` sorted values.
    static func rank(_ p: Double, _ n: Int) -> Int {
        min(n - 1, max(0, Int((p / 100 * Double(n)).rounded(.up)) - 1))
    }

    static func squaredError(_ group: UnsafeBufferPointer<Float>, _ p: QuantParams, _ storage: QuantizedStorage) -> Double {
        var e = 0.0
        for v in group {
            let d = Double(v) - Double(dequantize(quantize(v, p, storage), p))
            e += d * d
        }
        return e
    }
}

/// How the range of each group is chosen.
public enum ClipMethod: Sendable, Equatable, CustomStringConvertible {
    /// The full range of the values (onnxruntime's default).
    case minMax
    /// The `p`-th percentile of the values (of |values| when symmetric), nearest rank.
    case percentile(Double)
    /// The range, shrunk in 1% steps down to 50%, that minimises the squared error.
    case mse
    /// A least-squares scale search (`LeastSquaresScale`, after llama.cpp's make_qx_quants):
    /// symmetric signed storage uses all 2^b levels with a signed maximum, as Q4_0 does; the
    /// error minimised is weighted by an importance matrix when one is given.
    case leastSquares

    public var description: String {
        switch self {
        case .minMax: return "minmax"
        case .percentile(let p): return "percentile:\(p)"
        case .mse: return "mse"
        case .leastSquares: return "lsq"
        }
    }
}
