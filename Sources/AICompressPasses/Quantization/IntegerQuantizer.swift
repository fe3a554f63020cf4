import AICompressCore

/// Quantizes f32 values into a quantized payload (spec §5, encoding 2): scales and zero points
/// per group, the integers, and the error figures. The fast path walks the tensor in runs that
/// share a scale or are contiguous along the scale array, so its inner loops are branch-free
/// float arithmetic (IntegerQuantizer+Kernels.swift). `IntegerReference` is its plain twin,
/// written apart from it, and the two agree bit for bit.
///
/// Names used throughout: the tensor is `outer × axisLength × inner` elements around the scale
/// axis (`QuantizedLayout`); `blockSize` is 0 per channel, else the group length along the axis.
public enum IntegerQuantizer {
    /// Groups are spread over at most this many parallel pieces (enough to keep every core busy
    /// with uneven groups, few enough that a piece's setup is negligible).
    static let maximumPieces = 64
    /// Pieces whose partial ranges are merged at the end (per tensor, and channels repeated along
    /// outer dimensions): each piece then keeps one partial range per channel.
    static let mergedPieces = 8
    /// Pairs of 4-bit values packed per parallel chunk.
    static let pairsPerChunk = 1 << 18

    /// The record's fast implementation: `values` quantized as `request.parameters` say.
    /// - Throws: `PassError.invalidParameter` without parameters, `ModelError` for a layout that
    ///   does not fit the shape, `PassError.unsupported` for a scale too large for the scale type.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, _ request: QuantizationRequest) throws -> QuantizedValues {
        let layout = try QuantizedLayout(shape: request.shape, parameters: request.integerParameters())
        let params = groupParameters(values, layout: layout, symmetric: request.symmetric, clip: request.clip,
                                     importance: request.importance)
        try QuantizationRequest.checkScales(params.map(\.scale), layout: layout)
        let q = encode(values, layout: layout, params: params)
        return QuantizedValues(payload: q.payload, figures: q.figures)
    }

    /// The quantized payload of `values` (row-major over `layout.shape`), with every group's
    /// scale and zero point and the error figures. A scale that overflows the scale type is
    /// stored as infinity here; `quantize(_:_:)` refuses it.
    public static func quantize(
        _ values: UnsafeBufferPointer<Float>, layout: QuantizedLayout, symmetric: Bool, clip: ClipMethod,
        importance: QuantizationRequest.Importance? = nil
    ) -> (payload: ByteBuffer, params: [QuantParams], figures: ErrorFigures) {
        let params = groupParameters(values, layout: layout, symmetric: symmetric, clip: clip, importance: importance)
        let q = encode(values, layout: layout, params: params)
        return (q.payload, params, q.figures)
    }

    /// The payload of `values` with these group parameters.
    static func encode(_ values: UnsafeBufferPointer<Float>, layout: QuantizedLayout,
                       params: [QuantParams]) -> (payload: ByteBuffer, figures: ErrorFigures) {
        let n = values.count
        let storage = layout.parameters.storage
        var figures = ErrorFigures()
        let payload = ByteBuffer.build(count: layout.payloadBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            // Integers: 8-bit straight into the payload; 4-bit through a byte per value, then packed.
            let eightBit = storage.bits == 8
            let q = eightBit ? out.baseAddress!.assumingMemoryBound(to: Int8.self)
                             : UnsafeMutablePointer<Int8>.allocate(capacity: max(n, 1))
            defer { if !eightBit { q.deallocate() } }
            figures = quantizeValues(values, layout: layout, params: params, into: q)
            if !eightBit { packNibbles(q, count: n, into: out.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            let raw = UnsafeMutableRawBufferPointer(start: out.baseAddress, count: out.count)
            for (s, p) in params.enumerated() { layout.storeScale(p.scale, s, into: raw) }
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
        return (payload, figures)
    }

    /// Two values per byte, element 2k in the low nibble; in parallel chunks.
    static func packNibbles(_ q: UnsafeMutablePointer<Int8>, count n: Int, into out: UnsafeMutablePointer<UInt8>) {
        let pairs = n / 2
        nonisolated(unsafe) let dst = out
        nonisolated(unsafe) let src = UnsafeRawPointer(q).assumingMemoryBound(to: UInt8.self)
        Parallel.forEach((pairs + pairsPerChunk - 1) / pairsPerChunk) { c in
            var j = c * pairsPerChunk
            let end = min(pairs, (c + 1) * pairsPerChunk)
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

    /// Scale and zero point of every group, the scale rounded to the layout's scale type.
    public static func groupParameters(
        _ values: UnsafeBufferPointer<Float>, layout: QuantizedLayout, symmetric: Bool, clip: ClipMethod,
        importance: QuantizationRequest.Importance? = nil
    ) -> [QuantParams] {
        let storage = layout.parameters.storage, scaleType = layout.parameters.scaleType
        if clip == .minMax {
            let (lo, hi) = ranges(values, layout: layout)
            return zip(lo, hi).map {
                QuantizationMath.stored(QuantizationMath.parameters(rmin: $0, rmax: $1, storage: storage, symmetric: symmetric), scaleType)
            }
        }
        if layout.parameters.axis == nil {
            // One group: the values themselves, without a copy.
            let weights = importance.map { imp in (0..<values.count).map { imp.weight(ofElement: $0) } }
            return [(weights ?? []).withUnsafeBufferPointer { w in
                QuantizationMath.parameters(group: values, weights: weights == nil ? nil : w, storage: storage,
                                            symmetric: symmetric, clip: clip, scaleType: scaleType)
            }]
        }
        // The other methods need each group's values together: gather them, groups in parallel.
        let groups = layout.scaleCount
        let chunk = max(1, groups / maximumPieces)
        let parts = Parallel.map((groups + chunk - 1) / chunk) { c -> [QuantParams] in
            var scratch: [Float] = [], weights: [Float] = [], indices: [Int] = []
            return (c * chunk..<min(groups, (c + 1) * chunk)).map { s in
                gather(values.count, layout: layout, group: s, into: &indices)
                scratch.removeAll(keepingCapacity: true)
                for k in indices { scratch.append(values[k]) }
                if let importance {
                    weights.removeAll(keepingCapacity: true)
                    for k in indices { weights.append(importance.weight(ofElement: k)) }
                }
                return scratch.withUnsafeBufferPointer { x in
                    weights.withUnsafeBufferPointer { w in
                        QuantizationMath.parameters(group: x, weights: importance == nil ? nil : w, storage: storage,
                                                    symmetric: symmetric, clip: clip, scaleType: scaleType)
                    }
                }
            }
        }
        return parts.flatMap { $0 }
    }

    /// The flat indices of the elements of group `s` (of a per-axis or blocked layout), in
    /// row-major order.
    static func gather(_ count: Int, layout: QuantizedLayout, group s: Int, into out: inout [Int]) {
        out.removeAll(keepingCapacity: true)
        let axisLength = layout.axisLength, inner = layout.inner, blockSize = layout.parameters.blockSize
        if blockSize == 0 {
            for o in 0..<layout.outer { for i in 0..<inner { out.append((o * axisLength + s) * inner + i) } }
            return
        }
        let blocks = (axisLength + blockSize - 1) / blockSize
        let i = s % inner, block = (s / inner) % blocks, o = s / (inner * blocks)
        for a in (block * blockSize)..<min(axisLength, (block + 1) * blockSize) { out.append((o * axisLength + a) * inner + i) }
    }

    /// Minimum and maximum of every group, in one pass over runs, spread over the cores in
    /// pieces that never share a group (or, per channel with channels repeated along outer
    /// dimensions, with small per-piece arrays merged at the end).
    static func ranges(_ v: UnsafeBufferPointer<Float>, layout: QuantizedLayout) -> ([Float], [Float]) {
        let scaleCount = layout.scaleCount
        var lo = [Float](repeating: .infinity, count: scaleCount), hi = [Float](repeating: -.infinity, count: scaleCount)
        let outer = layout.outer, axisLength = layout.axisLength, inner = layout.inner, blockSize = layout.parameters.blockSize
        guard v.count > 0 else { return ([Float](repeating: 0, count: scaleCount), [Float](repeating: 0, count: scaleCount)) }
        nonisolated(unsafe) let base = v.baseAddress!
        lo.withUnsafeMutableBufferPointer { loBuf in
            hi.withUnsafeMutableBufferPointer { hiBuf in
                nonisolated(unsafe) let lo = loBuf.baseAddress!, hi = hiBuf.baseAddress!
                if layout.parameters.axis == nil {
                    let parts = Parallel.map(mergedPieces) { c -> (Float, Float) in
                        let r = (v.count * c / mergedPieces)..<(v.count * (c + 1) / mergedPieces)
                        return reduce(base + r.lowerBound, r.count)
                    }
                    lo[0] = parts.map(\.0).min()!
                    hi[0] = parts.map(\.1).max()!
                } else if blockSize == 0 && outer == 1 {
                    // One channel per index of the leading axis: channels are independent.
                    let pieces = min(axisLength, maximumPieces)
                    Parallel.forEach(pieces) { c in
                        for a in (axisLength * c / pieces)..<(axisLength * (c + 1) / pieces) {
                            let (x, y) = reduce(base + a * inner, inner)
                            lo[a] = x
                            hi[a] = y
                        }
                    }
                } else if blockSize == 0 {
                    // Channels repeat along the outer dimensions: partial ranges per piece, merged.
                    let pieces = min(outer, mergedPieces)
                    let parts = Parallel.map(pieces) { c -> ([Float], [Float]) in
                        var l = [Float](repeating: .infinity, count: axisLength), h = [Float](repeating: -.infinity, count: axisLength)
                        for o in (outer * c / pieces)..<(outer * (c + 1) / pieces) {
                            for a in 0..<axisLength {
                                let (x, y) = reduce(base + (o * axisLength + a) * inner, inner)
                                l[a] = min(l[a], x)
                                h[a] = max(h[a], y)
                            }
                        }
                        return (l, h)
                    }
                    for (l, h) in parts {
                        for a in 0..<axisLength {
                            lo[a] = min(lo[a], l[a])
                            hi[a] = max(hi[a], h[a])
                        }
                    }
                } else {
                    // Blocks: each (outer index, block) owns its groups.
                    let blocks = (axisLength + blockSize - 1) / blockSize
                    let units = outer * blocks
                    let pieces = min(units, maximumPieces)
                    Parallel.forEach(pieces) { c in
                        for u in (units * c / pieces)..<(units * (c + 1) / pieces) {
                            let o = u / blocks, block = u % blocks
                            let start = block * blockSize, end = min(axisLength, start + blockSize)
                            if inner == 1 {
                                let (x, y) = reduce(base + o * axisLength + start, end - start)
                                lo[u] = min(lo[u], x)
                                hi[u] = max(hi[u], y)
                            } else {
                                for a in start..<end {
                                    elementwise(base + (o * axisLength + a) * inner, inner, lo + u * inner, hi + u * inner)
                                }
                            }
                        }
                    }
                }
            }
        }
        // Groups with no element (a zero-sized dimension) get the range [0, 0].
        for s in 0..<scaleCount where lo[s] > hi[s] {
            lo[s] = 0
            hi[s] = 0
        }
        return (lo, hi)
    }

    /// Minimum and maximum of `n` contiguous values, eight lanes at a time.
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

    /// The smallest lane.
    @inline(__always)
    static func horizontalMin(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
        return smaller(smaller(h[0], h[1]), smaller(h[2], h[3]))
    }

    /// The largest lane.
    @inline(__always)
    static func horizontalMax(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        return larger(larger(h[0], h[1]), larger(h[2], h[3]))
    }

    /// Swift.min's definition (`y < x ? y : x`, so the same signed zero), forced inline: the
    /// optimiser left the generic one as a call in the per-run flush.
    @inline(__always)
    static func smaller(_ x: Float, _ y: Float) -> Float { y < x ? y : x }

    /// Swift.max's definition (`y >= x ? y : x`), forced inline likewise.
    @inline(__always)
    static func larger(_ x: Float, _ y: Float) -> Float { y >= x ? y : x }

    /// Widens `n` ranges (one per inner index) by the `n` values at `p`.
    @inline(__always)
    static func elementwise(_ p: UnsafePointer<Float>, _ n: Int, _ lo: UnsafeMutablePointer<Float>, _ hi: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            lo[i] = min(lo[i], p[i])
            hi[i] = max(hi[i], p[i])
        }
    }
}
