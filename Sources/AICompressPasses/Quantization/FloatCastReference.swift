import AICompressCore

/// The plain reference of the float casts, derived from the format's field widths alone and
/// sharing nothing with `FloatCast` or Core's conversions: the value of every non-negative code is
/// computed from its exponent and fraction fields (exactly, in Double), a value is rounded to the
/// nearest code by binary search with ties to the even code, and magnitudes past the largest
/// finite value round to infinity as IEEE 754 does (as though the infinity code stood for
/// 2^(emax+1)).
public enum FloatCastReference {
    /// The little-endian 16-bit payload of `values` in `format`, and its error figures.
    public static func quantize(_ values: [Float], format: FloatFormat) -> QuantizedValues {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2 * values.count)
        var figures = ErrorFigures()
        for x in values {
            let code = round(x, format)
            bytes.append(UInt8(code & 0xFF))
            bytes.append(UInt8(code >> 8))
            figures.add(original: Double(x), changed: Double(decode(code, format)))
        }
        return QuantizedValues(payload: bytes.withUnsafeBytes { ByteBuffer.copying($0) }, figures: figures)
    }

    /// The code of the infinity (all exponent bits set, fraction 0), the largest magnitude code.
    static func infinityCode(_ f: FloatFormat) -> Int { ((1 << f.exponentBits) - 1) << f.mantissaBits }

    /// The magnitude code `c` stands for; the infinity code stands for 2^(emax+1) here.
    static func magnitude(_ c: Int, _ f: FloatFormat) -> Double {
        let bias = (1 << (f.exponentBits - 1)) - 1
        let exponent = c >> f.mantissaBits, fraction = c & ((1 << f.mantissaBits) - 1)
        if exponent == 0 {
            // Subnormal: fraction × 2^(1 − bias − mantissaBits).
            return Double(fraction) * pow2(1 - bias - f.mantissaBits)
        }
        return Double((1 << f.mantissaBits) + fraction) * pow2(exponent - bias - f.mantissaBits)
    }

    /// 2^k, exactly.
    static func pow2(_ k: Int) -> Double { Double(sign: .plus, exponent: k, significand: 1) }

    /// The code nearest to `x`, ties to even, with its sign bit.
    static func round(_ x: Float, _ f: FloatFormat) -> Int {
        let a = Double(x.magnitude)
        let top = infinityCode(f)
        // The largest code whose magnitude is at most |x|.
        var low = 0, high = top
        while low < high {
            let mid = (low + high + 1) / 2
            if magnitude(mid, f) <= a { low = mid } else { high = mid - 1 }
        }
        var code = low
        if low < top {
            let below = a - magnitude(low, f), above = magnitude(low + 1, f) - a
            if above < below || (above == below && low % 2 == 1) { code = low + 1 }
        }
        let signBit = x.sign == .minus ? 1 << (f.exponentBits + f.mantissaBits) : 0
        return code | signBit
    }

    /// The Float a code stands for (infinity for the infinity code).
    static func decode(_ code: Int, _ f: FloatFormat) -> Float {
        let signBit = 1 << (f.exponentBits + f.mantissaBits)
        let c = code & (signBit - 1)
        let m: Float = c == infinityCode(f) ? .infinity : Float(magnitude(c, f))
        return code & signBit != 0 ? -m : m
    }
}
