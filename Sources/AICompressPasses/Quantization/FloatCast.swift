import AICompressCore

/// A float format's fast conversions, as static functions so that `FloatCast.quantize` is
/// specialised (and its loop inlined) for each format.
public protocol FloatCoding {
    /// The format these conversions are for.
    static var format: FloatFormat { get }
    /// The format's bits of `x`, rounded to nearest even.
    static func encode(_ x: Float) -> UInt16
    /// The value `bits` stand for, exactly.
    static func decode(_ bits: UInt16) -> Float
}

/// The fast path of the float casts (fp16, bf16): every value rounded to the narrower format by
/// `Coding.encode`, stored little-endian, and read back by `Coding.decode` for the error figures;
/// in parallel chunks over the cores.
public enum FloatCast {
    /// Values per parallel chunk.
    static let chunk = 1 << 16

    /// The 16-bit payload of `values` and its error figures.
    public static func quantize<Coding: FloatCoding>(_ values: UnsafeBufferPointer<Float>, as _: Coding.Type) -> QuantizedValues {
        let n = values.count
        var figures = ErrorFigures()
        let payload = ByteBuffer.build(count: 2 * n) { out in
            guard let base = out.baseAddress else { return }
            nonisolated(unsafe) let dst = base.assumingMemoryBound(to: UInt16.self)
            let parts = Parallel.map((n + chunk - 1) / chunk) { c -> ErrorFigures in
                var e = ErrorFigures()
                for k in (c * chunk)..<min(n, (c + 1) * chunk) {
                    let x = values[k]
                    let bits = Coding.encode(x)
                    dst[k] = bits.littleEndian
                    e.add(original: Double(x), changed: Double(Coding.decode(bits)))
                }
                return e
            }
            for p in parts { figures.merge(p) }
        }
        return QuantizedValues(payload: payload, figures: figures)
    }
}
