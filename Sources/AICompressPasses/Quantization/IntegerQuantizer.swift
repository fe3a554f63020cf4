import AICompressCore

/// Quantizes f32 values into a quantized payload (spec §5, encoding 2): scales and zero points
/// per group, the integers, and the error figures. The fast path walks the tensor in runs that
/// share a scale or are contiguous along the scale array, so its inner loops are branch-free
/// float arithmetic; `reference` is its plain twin, and the two agree bit for bit.
public enum IntegerQuantizer {
    /// Error figures of one quantization.
    public struct Errors: Sendable, Equatable {
        public var signal = 0.0
        public var error = 0.0
        public var maxAbs = 0.0
        public var zeros = 0

        mutating func merge(_ o: Errors) {
            signal += o.signal
            error += o.error
            maxAbs = max(maxAbs, o.maxAbs)
            zeros += o.zeros
        }
    }

    /// The quantized payload of `values` (row-major over `layout.shape`), with figures.
    public static func quantize(
        _ values: UnsafeBufferPointer<Float>, layout: QuantizedLayout, symmetric: Bool, clip: ClipMethod
    ) -> (payload: ByteBuffer, params: [QuantParams], errors: Errors) {
        let params = groupParameters(values, layout: layout, symmetric: symmetric, clip: clip)
        let n = values.count
        let storage = layout.parameters.storage
        var errors = Errors()
        let payload = ByteBuffer.build(count: layout.payloadBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            // Integers: 8-bit straight into the payload; 4-bit through a byte per value, then packed.
            let eightBit = storage.bits == 8
            let q = eightBit ? out.baseAddress!.assumingMemoryBound(to: Int8.self)
                             : UnsafeMutablePointer<Int8>.allocate(capacity: max(n, 1))
            defer { if !eightBit { q.deallocate() } }
            errors = quantizeValues(values, layout: layout, params: params, into: q)
            if !eightBit {
                // Two values per byte, element 2k in the low nibble; in parallel chunks.
                let pairs = n / 2
                let chunk = 1 << 18
                nonisolated(unsafe) let dst = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                nonisolated(unsafe) let src = UnsafeRawPointer(q).assumingMemoryBound(to: UInt8.self)
                Parallel.forEach((pairs + chunk - 1) / chunk) { c in
                    var j = c * chunk
                    let end = min(pairs, (c + 1) * chunk)
                    let mask = SIMD8<UInt8>(repeating: 0x0F)
                    while j + 8 <= end {
                        let v = UnsafeRawPointer(src + 2 * j).loadUnaligned(as: SIMD16<UInt8>.self)
                        UnsafeMutableRawPointer(dst + j).storeBytes(of: (v.evenHalf & mask) | (v.oddHalf &<< 4), as: SIMD8<UInt8>.self)
                        j += 8
                    }
                    while j < end {
                        dst[j] = (src[2 * j] & 0x0F) | (src[2 * j + 1] << 4)
                        j += 1
                    }
                }
                if n % 2 == 1 { dst[pairs] = src[n - 1] & 0x0F }
            }
            for (s, p) in params.enumerated() {
                out.storeBytes(of: p.scale.bitPattern.littleEndian, toByteOffset: layout.scalesOffset + 4 * s, as: UInt32.self)
            }
            if layout.parameters.hasZeroPoint {
                for (s, p) in params.enumerated() {
                    let z = UInt8(truncatingIfNeeded: p.zeroPoint)
                    if eightBit {
                        out[layout.zeroPointsOffset + s] = z
                    } else {
                        out[layout.zeroPointsOffset + s >> 1] |= s & 1 == 0 ? z & 0x0F : (z & 0x0F) << 4
                    }
                }
            }
        }
        return (payload, params, errors)
    }

    /// The plain reference: every element through `scaleIndex` and `QuantizationMath`.
    public static func reference(_ values: [Float], layout: QuantizedLayout, params: [QuantParams]) -> [Int] {
        values.indices.map { QuantizationMath.quantize(values[$0], params[layout.scaleIndex($0)], layout.parameters.storage) }
    }

    /// Scale and zero point of every group.
    public static func groupParameters(
        _ values: UnsafeBufferPointer<Float>, layout: QuantizedLayout, symmetric: Bool, clip: ClipMethod
    ) -> [QuantParams] {
        let storage = layout.parameters.storage
        if clip == .minMax {
            let (lo, hi) = ranges(values, layout: layout)
            return zip(lo, hi).map { QuantizationMath.parameters(rmin: $0, rmax: $1, storage: storage, symmetric: symmetric) }
        }
        // Percentile and MSE need each group's values together: gather them, groups in parallel.
        let groups = layout.scaleCount
        let chunk = max(1, groups / 64)
        let parts = Parallel.map((groups + chunk - 1) / chunk) { c -> [QuantParams] in
            var scratch: [Float] = []
            return (c * chunk..<min(groups, (c + 1) * chunk)).map { s in
                gather(values, layout: layout, group: s, into: &scratch)
                return scratch.withUnsafeBufferPointer {
                    QuantizationMath.parameters(group: $0, storage: storage, symmetric: symmetric, clip: clip)
                }
            }
        }
        return parts.flatMap { $0 }
    }

    /// The values of group `s`.
    static func gather(_ v: UnsafeBufferPointer<Float>, layout: QuantizedLayout, group s: Int, into out: inout [Float]) {
        out.removeAll(keepingCapacity: true)
        let D = layout.axisLength, I = layout.inner, B = layout.parameters.blockSize
        guard layout.parameters.axis != nil else {
            out.append(contentsOf: v)
            return
        }
        if B == 0 {
            for o in 0..<layout.outer { for i in 0..<I { out.append(v[(o * D + s) * I + i]) } }
            return
        }
        let nb = (D + B - 1) / B
        let i = s % I, blk = (s / I) % nb, o = s / (I * nb)
        for a in (blk * B)..<min(D, (blk + 1) * B) { out.append(v[(o * D + a) * I + i]) }
    }

    /// Minimum and maximum of every group, in one pass over runs, spread over the cores in
    /// pieces that never share a group (or, per channel with channels repeated along outer
    /// dimensions, with small per-piece arrays merged at the end).
    static func ranges(_ v: UnsafeBufferPointer<Float>, layout: QuantizedLayout) -> ([Float], [Float]) {
        let S = layout.scaleCount
        var lo = [Float](repeating: .infinity, count: S), hi = [Float](repeating: -.infinity, count: S)
        let O = layout.outer, D = layout.axisLength, I = layout.inner, B = layout.parameters.blockSize
        guard v.count > 0 else { return ([Float](repeating: 0, count: S), [Float](repeating: 0, count: S)) }
        nonisolated(unsafe) let base = v.baseAddress!
        lo.withUnsafeMutableBufferPointer { loBuf in
            hi.withUnsafeMutableBufferPointer { hiBuf in
                nonisolated(unsafe) let lo = loBuf.baseAddress!, hi = hiBuf.baseAddress!
                if layout.parameters.axis == nil {
                    let parts = Parallel.map(8) { c -> (Float, Float) in
                        let r = (v.count * c / 8)..<(v.count * (c + 1) / 8)
                        return reduce(base + r.lowerBound, r.count)
                    }
                    lo[0] = parts.map(\.0).min()!
                    hi[0] = parts.map(\.1).max()!
                } else if B == 0 && O == 1 {
                    // One channel per index of the leading axis: channels are independent.
                    Parallel.forEach(min(D, 64)) { c in
                        for a in (D * c / min(D, 64))..<(D * (c + 1) / min(D, 64)) {
                            let (x, y) = reduce(base + a * I, I)
                            lo[a] = x
                            hi[a] = y
                        }
                    }
                } else if B == 0 {
                    // Channels repeat along the outer dimensions: partial ranges per piece, merged.
                    let pieces = min(O, 8)
                    let parts = Parallel.map(pieces) { c -> ([Float], [Float]) in
                        var l = [Float](repeating: .infinity, count: D), h = [Float](repeating: -.infinity, count: D)
                        for o in (O * c / pieces)..<(O * (c + 1) / pieces) {
                            for a in 0..<D {
                                let (x, y) = reduce(base + (o * D + a) * I, I)
                                l[a] = min(l[a], x)
                                h[a] = max(h[a], y)
                            }
                        }
                        return (l, h)
                    }
                    for (l, h) in parts {
                        for a in 0..<D {
                            lo[a] = min(lo[a], l[a])
                            hi[a] = max(hi[a], h[a])
                        }
                    }
                } else {
                    // Blocks: each (outer index, block) owns its groups.
                    let nb = (D + B - 1) / B
                    let units = O * nb
                    let pieces = min(units, 64)
                    Parallel.forEach(pieces) { c in
                        for u in (units * c / pieces)..<(units * (c + 1) / pieces) {
                            let o = u / nb, blk = u % nb
                            let start = blk * B, end = min(D, start + B)
                            if I == 1 {
                                let (x, y) = reduce(base + o * D + start, end - start)
                                lo[u] = min(lo[u], x)
                                hi[u] = max(hi[u], y)
                            } else {
                                for a in start..<end {
                                    elementwise(base + (o * D + a) * I, I, lo + u * I, hi + u * I)
                                }
                            }
                        }
                    }
                }
            }
        }
        // Groups with no element (a zero-sized dimension) get the range [0, 0].
        for s in 0..<S where lo[s] > hi[s] {
            lo[s] = 0
            hi[s] = 0
        }
        return (lo, hi)
    }

    @inline(__always)
    static func reduce(_ p: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
        var lo = SIMD8<Float>(repeating: .infinity), hi = SIMD8<Float>(repeating: -.infinity)
        let lanes = n / 8
        for i in 0..<lanes {
            let x = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: 32 * i, as: SIMD8<Float>.self)
            lo = lanewiseMin(lo, x)
            hi = lanewiseMax(hi, x)
        }
        var a = horizontalMin(lo), b = horizontalMax(hi)
        for i in (lanes * 8)..<n {
            a = min(a, p[i])
            b = max(b, p[i])
        }
        return (a, b)
    }

    @inline(__always)
    static func horizontalMin(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
        return min(min(h[0], h[1]), min(h[2], h[3]))
    }

    @inline(__always)
    static func horizontalMax(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        return max(max(h[0], h[1]), max(h[2], h[3]))
    }

    @inline(__always)
    static func elementwise(_ p: UnsafePointer<Float>, _ n: Int, _ lo: UnsafeMutablePointer<Float>, _ hi: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            lo[i] = min(lo[i], p[i])
            hi[i] = max(hi[i], p[i])
        }
    }

    /// Writes every integer (one byte each) and returns the error figures. Parallel over runs.
    static func quantizeValues(
        _ v: UnsafeBufferPointer<Float>, layout: QuantizedLayout, params: [QuantParams], into q: UnsafeMutablePointer<Int8>
    ) -> Errors {
        let n = v.count
        guard n > 0 else { return Errors() }
        let D = layout.axisLength, I = layout.inner, B = layout.parameters.blockSize
        let perTensor = layout.parameters.axis == nil
        let storage = layout.parameters.storage
        let scales = params.map(\.scale), zps = params.map { Float($0.zeroPoint) }
        let qlo = Float(storage.qmin), qhi = Float(storage.qmax)
        // A unit is a run the loops below handle at once.
        let unit = perTensor ? 4096 : (I > 1 ? I : D)
        let units = (n + unit - 1) / unit
        let itemUnits = max(1, (1 << 16) / unit)
        let items = (units + itemUnits - 1) / itemUnits
        nonisolated(unsafe) let out = q
        let parts = Parallel.map(items) { item -> Errors in
            var e = Errors()
            let nb = B > 0 ? (D + B - 1) / B : 0
            scales.withUnsafeBufferPointer { sc in
                zps.withUnsafeBufferPointer { zp in
                    for u in (item * itemUnits)..<min(units, (item + 1) * itemUnits) {
                        let k0 = u * unit
                        if perTensor {
                            run(v.baseAddress! + k0, min(unit, n - k0), sc[0], zp[0], qlo, qhi, out + k0, &e)
                        } else if I > 1 {
                            let o = u / D, a = u % D
                            if B == 0 {
                                run(v.baseAddress! + k0, I, sc[a], zp[a], qlo, qhi, out + k0, &e)
                            } else {
                                let s = (o * nb + a / B) * I
                                runElementwise(v.baseAddress! + k0, I, sc.baseAddress! + s, zp.baseAddress! + s, qlo, qhi, out + k0, &e)
                            }
                        } else if B == 0 {
                            runElementwise(v.baseAddress! + k0, D, sc.baseAddress!, zp.baseAddress!, qlo, qhi, out + k0, &e)
                        } else {
                            for blk in 0..<nb {
                                let start = blk * B, len = min(B, D - start), s = u * nb + blk
                                run(v.baseAddress! + k0 + start, len, sc[s], zp[s], qlo, qhi, out + k0 + start, &e)
                            }
                        }
                    }
                }
            }
            return e
        }
        var total = Errors()
        for p in parts { total.merge(p) }
        return total
    }

    /// Round half to even for |y| < 2^22, exactly as rintf, in plain float arithmetic (adding and
    /// subtracting 1.5 × 2^23 leaves no fraction bits), so the loops vectorize without SSE4.1.
    @inline(__always)
    static func roundHalfEven(_ y: Float) -> Float {
        let magic: Float = 12_582_912
        let clamped = min(max(y, -4_194_304), 4_194_304)
        return (clamped + magic) - magic
    }

    @inline(__always)
    static func quantizeOne(_ x: Float, _ scale: Float, _ zp: Float, _ qlo: Float, _ qhi: Float, _ e: inout Errors) -> Int8 {
        let q = min(max(roundHalfEven(x / scale) + zp, qlo), qhi)
        let back = (q - zp) * scale
        let d = Double(x) - Double(back)
        e.signal += Double(x) * Double(x)
        e.error += d * d
        e.maxAbs = max(e.maxAbs, abs(d))
        if back == 0 { e.zeros += 1 }
        return Int8(truncatingIfNeeded: Int32(q))
    }

    /// Eight values at once; the same arithmetic as `quantizeOne`, so results are identical.
    /// Sums of squares are kept in float per run and added to the double totals at its end.
    @inline(__always)
    static func quantize8(_ x: SIMD8<Float>, _ scale: SIMD8<Float>, _ zp: SIMD8<Float>, _ qlo: SIMD8<Float>, _ qhi: SIMD8<Float>,
                          _ sig: inout SIMD8<Float>, _ err: inout SIMD8<Float>, _ mx: inout SIMD8<Float>,
                          _ zeros: inout SIMD8<Int32>) -> SIMD8<Int32> {
        let magic = SIMD8<Float>(repeating: 12_582_912), limit = SIMD8<Float>(repeating: 4_194_304)
        let y = lanewiseMin(lanewiseMax(x / scale, -limit), limit)
        let q = lanewiseMin(lanewiseMax(((y + magic) - magic) + zp, qlo), qhi)
        let back = (q - zp) * scale
        let d = x - back
        sig += x * x
        err += d * d
        mx = lanewiseMax(mx, lanewiseMax(d, -d))
        zeros &-= unsafeBitCast(back .== 0, to: SIMD8<Int32>.self)
        // q is integral and small: adding 1.5 × 2^23 puts it in the low mantissa bits, which an
        // integer subtraction reads out (a float-to-int conversion without a library call).
        return unsafeBitCast(q + magic, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000)
    }

    @inline(__always)
    static func flush(_ sig: SIMD8<Float>, _ err: SIMD8<Float>, _ mx: SIMD8<Float>, _ zeros: SIMD8<Int32>, _ e: inout Errors) {
        e.signal += Double(sig.sum())
        e.error += Double(err.sum())
        e.maxAbs = max(e.maxAbs, Double(horizontalMax(mx)))
        e.zeros += Int(zeros.wrappedSum())
    }

    @inline(__always)
    static func store(_ q: SIMD8<Int32>, _ out: UnsafeMutablePointer<Int8>) {
        let b = SIMD8<Int8>(truncatingIfNeeded: q)
        UnsafeMutableRawPointer(out).storeBytes(of: b, as: SIMD8<Int8>.self)
    }

    @inline(__always)
    static func run(_ v: UnsafePointer<Float>, _ n: Int, _ scale: Float, _ zp: Float, _ qlo: Float, _ qhi: Float,
                    _ q: UnsafeMutablePointer<Int8>, _ e: inout Errors) {
        var sig = SIMD8<Float>(), err = SIMD8<Float>(), mx = SIMD8<Float>(), zeros = SIMD8<Int32>()
        let vs = SIMD8(repeating: scale), vz = SIMD8(repeating: zp), lo = SIMD8(repeating: qlo), hi = SIMD8(repeating: qhi)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
            store(quantize8(x, vs, vz, lo, hi, &sig, &err, &mx, &zeros), q + i)
            i += 8
        }
        flush(sig, err, mx, zeros, &e)
        while i < n {
            q[i] = quantizeOne(v[i], scale, zp, qlo, qhi, &e)
            i += 1
        }
    }

    @inline(__always)
    static func runElementwise(_ v: UnsafePointer<Float>, _ n: Int, _ scale: UnsafePointer<Float>, _ zp: UnsafePointer<Float>,
                               _ qlo: Float, _ qhi: Float, _ q: UnsafeMutablePointer<Int8>, _ e: inout Errors) {
        var sig = SIMD8<Float>(), err = SIMD8<Float>(), mx = SIMD8<Float>(), zeros = SIMD8<Int32>()
        let lo = SIMD8(repeating: qlo), hi = SIMD8(repeating: qhi)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
            let s = UnsafeRawPointer(scale + i).loadUnaligned(as: SIMD8<Float>.self)
            let z = UnsafeRawPointer(zp + i).loadUnaligned(as: SIMD8<Float>.self)
            store(quantize8(x, s, z, lo, hi, &sig, &err, &mx, &zeros), q + i)
            i += 8
        }
        flush(sig, err, mx, zeros, &e)
        while i < n {
            q[i] = quantizeOne(v[i], scale[i], zp[i], qlo, qhi, &e)
            i += 1
        }
    }
}
