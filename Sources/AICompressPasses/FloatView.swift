import AICompressCore

/// A tensor's values as f32: the stored bytes themselves for f32, a converted copy otherwise.
struct FloatView {
    let values: UnsafeBufferPointer<Float>
    private let owned: UnsafeMutableBufferPointer<Float>?
    private let keepAlive: TensorData
    /// True when `values` are the tensor's own bytes (f32 in place), not a decoded copy.
    var isView: Bool { owned == nil }

    init(_ t: Tensor) throws {
        keepAlive = t.data
        if t.dtype == .f32, t.isDense {
            // Stored little-endian f32 is native here; only aligned storage is used in place.
            let direct: UnsafeBufferPointer<Float>? = t.data.withUnsafeBytes { raw in
                guard let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
                return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: t.elementCount)
            }
            if let direct {
                values = direct
                owned = nil
                return
            }
        }
        let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(t.elementCount, 1))
        var k = 0
        ElementDecoder.forEachChunk(of: t, chunk: 4096) { chunk in
            for v in chunk {
                copy[k] = Float(v)
                k += 1
            }
        }
        owned = copy
        values = UnsafeBufferPointer(start: copy.baseAddress, count: t.elementCount)
    }

    func release() { owned?.deallocate() }
}

extension FloatView {
    /// NaN and infinite values, counted with SIMD over the cores.
    static func countNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int {
        let n = values.count
        let chunk = 1 << 18
        nonisolated(unsafe) let base = values.baseAddress
        guard let base else { return 0 }
        return Parallel.map((n + chunk - 1) / chunk) { c -> Int in
            let start = c * chunk, end = min(n, start + chunk)
            var bad = SIMD8<Int32>()
            var i = start
            while i + 8 <= end {
                let x = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
                bad &-= unsafeBitCast((x - x) .!= 0, to: SIMD8<Int32>.self)  // NaN or ±Inf
                i += 8
            }
            var count = Int(bad.wrappedSum())
            while i < end {
                if !base[i].isFinite { count += 1 }
                i += 1
            }
            return count
        }.reduce(0, +)
    }
}
