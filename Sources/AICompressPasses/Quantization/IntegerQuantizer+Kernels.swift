import AICompressCore

extension IntegerQuantizer {
    /// Values per run when the whole tensor shares one scale.
    static let perTensorRun = 4096
    /// Values (at least one run) per parallel work item.
    static let valuesPerItem = 1 << 16

    /// Writes every integer (one byte each) and returns the error figures. Parallel over runs.
    static func quantizeValues(
        _ v: UnsafeBufferPointer<Float>, layout: QuantizedLayout, params: [QuantParams], into q: UnsafeMutablePointer<Int8>
    ) -> ErrorFigures {
        let n = v.count
        guard n > 0, let base = v.baseAddress else { return ErrorFigures() }
        let axisLength = layout.axisLength, inner = layout.inner, blockSize = layout.parameters.blockSize
        let perTensor = layout.parameters.axis == nil
        let storage = layout.parameters.storage
        let scales = params.map(\.scale), zps = params.map { Float($0.zeroPoint) }
        let low = Float(storage.qmin), high = Float(storage.qmax)
        // A run is what the loops below handle at once: values sharing one scale, or lying
        // contiguously along the scale array.
        let run = perTensor ? perTensorRun : (inner > 1 ? inner : axisLength)
        let runs = (n + run - 1) / run
        let runsPerItem = max(1, valuesPerItem / run)
        let items = (runs + runsPerItem - 1) / runsPerItem
        nonisolated(unsafe) let out = q
        nonisolated(unsafe) let input = base
        let parts = Parallel.map(items) { item -> ErrorFigures in
            var e = ErrorFigures()
            let blocks = blockSize > 0 ? (axisLength + blockSize - 1) / blockSize : 0
            scales.withUnsafeBufferPointer { sc in
                zps.withUnsafeBufferPointer { zp in
                    for u in (item * runsPerItem)..<min(runs, (item + 1) * runsPerItem) {
                        let k0 = u * run
                        if perTensor {
                            quantizeRun(input + k0, count: min(run, n - k0), scale: sc[0], zeroPoint: zp[0],
                                        low: low, high: high, into: out + k0, figures: &e)
                        } else if inner > 1 {
                            let o = u / axisLength, a = u % axisLength
                            if blockSize == 0 {
                                quantizeRun(input + k0, count: inner, scale: sc[a], zeroPoint: zp[a],
                                            low: low, high: high, into: out + k0, figures: &e)
                            } else {
                                let s = (o * blocks + a / blockSize) * inner
                                quantizeRun(input + k0, count: inner, scales: sc.baseAddress! + s, zeroPoints: zp.baseAddress! + s,
                                            low: low, high: high, into: out + k0, figures: &e)
                            }
                        } else if blockSize == 0 {
                            quantizeRun(input + k0, count: axisLength, scales: sc.baseAddress!, zeroPoints: zp.baseAddress!,
                                        low: low, high: high, into: out + k0, figures: &e)
                        } else {
                            for block in 0..<blocks {
                                let start = block * blockSize, len = min(blockSize, axisLength - start), s = u * blocks + block
                                quantizeRun(input + k0 + start, count: len, scale: sc[s], zeroPoint: zp[s],
                                            low: low, high: high, into: out + k0 + start, figures: &e)
                            }
                        }
                    }
                }
            }
            return e
        }
        var total = ErrorFigures()
        for p in parts { total.merge(p) }
        // Every value goes through exactly one run; counting them here keeps the loops as they were.
        total.elements = n
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

    /// One value: round(x / scale) + zero point, clipped to [low, high]; its figures added to `e`.
    @inline(__always)
    static func quantizeOne(_ x: Float, scale: Float, zeroPoint: Float, low: Float, high: Float,
                            figures e: inout ErrorFigures) -> Int8 {
        let q = min(max(roundHalfEven(x / scale) + zeroPoint, low), high)
        let back = (q - zeroPoint) * scale
        // ErrorFigures.add's arithmetic, but `elements` is counted once for all in quantizeValues.
        let d = Double(x) - Double(back)
        e.signal += Double(x) * Double(x)
        e.error += d * d
        e.maxAbs = max(e.maxAbs, abs(d))
        if back == 0 { e.zerosAfter += 1 }
        return Int8(truncatingIfNeeded: Int32(q))
    }

    /// Eight values at once; the same arithmetic as `quantizeOne`, so results are identical.
    /// Sums of squares are kept in float lanes per run (`signal`, `error`, `maxAbs`, `zeros`)
    /// and added to the double totals at its end (`flush`). Separate lane variables, not a
    /// struct, keep them in registers.
    @inline(__always)
    static func quantize8(_ x: SIMD8<Float>, scale: SIMD8<Float>, zeroPoint: SIMD8<Float>, low: SIMD8<Float>,
                          high: SIMD8<Float>, signal: inout SIMD8<Float>, error: inout SIMD8<Float>,
                          maxAbs: inout SIMD8<Float>, zeros: inout SIMD8<Int32>) -> SIMD8<Int32> {
        let magic = SIMD8<Float>(repeating: 12_582_912), limit = SIMD8<Float>(repeating: 4_194_304)
        let y = lanewiseMin(lanewiseMax(x / scale, -limit), limit)
        let q = lanewiseMin(lanewiseMax(((y + magic) - magic) + zeroPoint, low), high)
        let back = (q - zeroPoint) * scale
        let d = x - back
        signal += x * x
        error += d * d
        maxAbs = lanewiseMax(maxAbs, lanewiseMax(d, -d))
        zeros &-= unsafeBitCast(back .== 0, to: SIMD8<Int32>.self)
        // q is integral and small: adding 1.5 × 2^23 puts it in the low mantissa bits, which an
        // integer subtraction reads out (a float-to-int conversion without a library call).
        return unsafeBitCast(q + magic, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000)
    }

    /// Adds a run's float lanes to the double totals (all but `elements`).
    @inline(__always)
    static func flush(signal: SIMD8<Float>, error: SIMD8<Float>, maxAbs: SIMD8<Float>, zeros: SIMD8<Int32>,
                      into e: inout ErrorFigures) {
        e.signal += Double(signal.sum())
        e.error += Double(error.sum())
        e.maxAbs = max(e.maxAbs, Double(horizontalMax(maxAbs)))
        e.zerosAfter += Int(zeros.wrappedSum())
    }

    /// Stores eight integers as bytes.
    @inline(__always)
    static func store(_ q: SIMD8<Int32>, _ out: UnsafeMutablePointer<Int8>) {
        let b = SIMD8<Int8>(truncatingIfNeeded: q)
        UnsafeMutableRawPointer(out).storeBytes(of: b, as: SIMD8<Int8>.self)
    }

    /// `count` values sharing one scale and zero point.
    @inline(__always)
    static func quantizeRun(_ v: UnsafePointer<Float>, count n: Int, scale: Float, zeroPoint: Float, low: Float, high: Float,
                            into q: UnsafeMutablePointer<Int8>, figures e: inout ErrorFigures) {
        var sig = SIMD8<Float>(), err = SIMD8<Float>(), mx = SIMD8<Float>(), zeros = SIMD8<Int32>()
        let vs = SIMD8(repeating: scale), vz = SIMD8(repeating: zeroPoint), lo = SIMD8(repeating: low), hi = SIMD8(repeating: high)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
            store(quantize8(x, scale: vs, zeroPoint: vz, low: lo, high: hi, signal: &sig, error: &err, maxAbs: &mx, zeros: &zeros), q + i)
            i += 8
        }
        flush(signal: sig, error: err, maxAbs: mx, zeros: zeros, into: &e)
        while i < n {
            q[i] = quantizeOne(v[i], scale: scale, zeroPoint: zeroPoint, low: low, high: high, figures: &e)
            i += 1
        }
    }

    /// `count` values with a scale and zero point each (contiguous along the scale array).
    @inline(__always)
    static func quantizeRun(_ v: UnsafePointer<Float>, count n: Int, scales: UnsafePointer<Float>, zeroPoints: UnsafePointer<Float>,
                            low: Float, high: Float, into q: UnsafeMutablePointer<Int8>, figures e: inout ErrorFigures) {
        var sig = SIMD8<Float>(), err = SIMD8<Float>(), mx = SIMD8<Float>(), zeros = SIMD8<Int32>()
        let lo = SIMD8(repeating: low), hi = SIMD8(repeating: high)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
            let s = UnsafeRawPointer(scales + i).loadUnaligned(as: SIMD8<Float>.self)
            let z = UnsafeRawPointer(zeroPoints + i).loadUnaligned(as: SIMD8<Float>.self)
            store(quantize8(x, scale: s, zeroPoint: z, low: lo, high: hi, signal: &sig, error: &err, maxAbs: &mx, zeros: &zeros), q + i)
            i += 8
        }
        flush(signal: sig, error: err, maxAbs: mx, zeros: zeros, into: &e)
        while i < n {
            q[i] = quantizeOne(v[i], scale: scales[i], zeroPoint: zeroPoints[i], low: low, high: high, figures: &e)
            i += 1
        }
    }
}
