import AICompressCore

/// The fast path of the float casts (fp16, bf16): every value rounded to the narrower format by
/// `encode`, stored little-endian, and read back by `decode` for the error figures; in parallel
/// chunks over the cores.
public enum FloatCast {
    /// Values per parallel chunk.
    static let chunk = 1 << 16

    /// The 16-bit payload of `values` and its error figures.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, encode: (Float) -> UInt16,
                                decode: (UInt16) -> Float) -> QuantizedValues {
        let n = values.count
        var figures = ErrorFigures()
        let payload = ByteBuffer.build(count: 2 * n) { out in
            guard let base = out.baseAddress else { return }
            nonisolated(unsafe) let dst = base.assumingMemoryBound(to: UInt16.self)
            let parts = Parallel.map((n + chunk - 1) / chunk) { c -> ErrorFigures in
                var e = ErrorFigures()
                for k in (c * chunk)..<min(n, (c + 1) * chunk) {
                    let x = values[k]
                    let bits = encode(x)
                    dst[k] = bits.littleEndian
                    e.add(original: Double(x), changed: Double(decode(bits)))
                }
                return e
            }
            for p in parts { figures.merge(p) }
        }
        return QuantizedValues(payload: payload, figures: figures)
    }
}
