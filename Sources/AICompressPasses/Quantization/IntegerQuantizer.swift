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
                for k in stride(from: 0, to: n, by: 2) {
                    let lo = UInt8(bitPattern: q[k]) & 0x0F
                    let hi = k + 1 < n ? (UInt8(bitPattern: q[k + 1]) & 0x0F) << 4 : 0
                    out[k >> 1] = lo | hi
                }
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

    /// Minimum and maximum of every group, in one pass over runs.
    static func ranges(_ v: UnsafeBufferPointer<Float>, layout: QuantizedLayout) -> ([Float], [Float]) {
        let S = layout.scaleCount
        var lo = [Float](repeating: .infinity, count: S), hi = [Float](repeating: -.infinity, count: S)
        let O = layout.outer, D = layout.axisLength, I = layout.inner, B = layout.parameters.blockSize
        guard v.count > 0 else { return ([Float](repeating: 0, count: S), [Float](repeating: 0, count: S)) }
        let base = v.baseAddress!
        lo.withUnsafeMutableBufferPointer { lo in
            hi.withUnsafeMutableBufferPointer { hi in
                guard layout.parameters.axis != nil else {
                    let parts = Parallel.map(8) { c -> (Float, Float) in
                        let r = (v.count * c / 8)..<(v.count * (c + 1) / 8)
                        return reduce(base + r.lowerBound, r.count)
                    }
                    lo[0] = parts.map(\.0).min()!
                    hi[0] = parts.map(\.1).max()!
                    return
                }
                let nb = B > 0 ? (D + B - 1) / B : 0
                for o in 0..<O {
                    if I == 1 {
                        let row = base + o * D
                        if B == 0 {
                            elementwise(row, D, lo.baseAddress!, hi.baseAddress!)
                        } else {
                            for blk in 0..<nb {
                                let start = blk * B, len = min(B, D - start)
                                let (a, b) = reduce(row + start, len)
                                let s = o * nb + blk
                                lo[s] = min(lo[s], a)
                                hi[s] = max(hi[s], b)
                            }
                        }
                    } else {
                        for a in 0..<D {
                            let run = base + (o * D + a) * I
                            if B == 0 {
                                let (x, y) = reduce(run, I)
                                lo[a] = min(lo[a], x)
                                hi[a] = max(hi[a], y)
                            } else {
                                let s = (o * nb + a / B) * I
                                elementwise(run, I, lo.baseAddress! + s, hi.baseAddress! + s)
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
            lo = pointwiseMin(lo, x)
            hi = pointwiseMax(hi, x)
        }
        var a = lo.min(), b = hi.max()
        for i in (lanes * 8)..<n {
            a = min(a, p[i])
            b = max(b, p[i])
        }
        return (a, b)
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

    @inline(__always)
    static func run(_ v: UnsafePointer<Float>, _ n: Int, _ scale: Float, _ zp: Float, _ qlo: Float, _ qhi: Float,
                    _ q: UnsafeMutablePointer<Int8>, _ e: inout Errors) {
        for i in 0..<n { q[i] = quantizeOne(v[i], scale, zp, qlo, qhi, &e) }
    }

    @inline(__always)
    static func runElementwise(_ v: UnsafePointer<Float>, _ n: Int, _ scale: UnsafePointer<Float>, _ zp: UnsafePointer<Float>,
                               _ qlo: Float, _ qhi: Float, _ q: UnsafeMutablePointer<Int8>, _ e: inout Errors) {
        for i in 0..<n { q[i] = quantizeOne(v[i], scale[i], zp[i], qlo, qhi, &e) }
    }
}
