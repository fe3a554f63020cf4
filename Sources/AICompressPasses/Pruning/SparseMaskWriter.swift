import AICompressCore

extension Prune {
    /// Which elements a pruning keeps.
    enum Decision {
        /// |x| above the threshold, and the first `ties` elements equal to it.
        case threshold(MagnitudeThreshold.Result, ties: Int)
        case mask([Bool])
    }

    /// Elements per chunk of the writer (a multiple of 8, so chunks own whole mask bytes).
    static let chunkSize = 1 << 16

    /// A tensor like `t` with the pruned elements zero, stored sparse when that is smaller, and
    /// its report. Two parallel passes over chunks: count what each chunk keeps (so tie quotas
    /// and output offsets are known in order), then write mask bits and values. `kernel` picks
    /// the f32 threshold writer (all kernels give the same result).
    static func masked(_ t: Tensor, _ values: UnsafeBufferPointer<Float>, scheme: String, decision: Decision,
                       precounted: [(sure: Int, ties: Int)]? = nil, kernel: PruneKernel = .fastest) throws -> (Tensor, TensorReport) {
        let n = t.elementCount
        let dense = try t.densified()
        let chunk = Prune.chunkSize
        let chunks = (n + chunk - 1) / chunk
        nonisolated(unsafe) let v = values
        // Pass 1 (unless the selection already counted): per chunk, elements kept for sure and
        // ties at the threshold.
        let counts = precounted.flatMap { $0.count == chunks ? $0 : nil } ?? Parallel.map(chunks) { c -> (sure: Int, ties: Int) in
            let range = (c * chunk)..<min(n, (c + 1) * chunk)
            switch decision {
            case .threshold(let th, _):
                return th.keepNone ? (0, 0) : countAbove(v, range, th.bits)
            case .mask(let mask):
                return (mask[range].reduce(0) { $0 + ($1 ? 1 : 0) }, 0)
            }
        }
        var quota = [Int](repeating: 0, count: chunks)
        if case .threshold(_, var remaining) = decision {
            for c in 0..<chunks {
                quota[c] = min(counts[c].ties, remaining)
                remaining -= quota[c]
            }
        }
        var offsets = [Int](repeating: 0, count: chunks + 1)
        for c in 0..<chunks { offsets[c + 1] = offsets[c] + counts[c].sure + quota[c] }
        let kept = offsets[chunks]
        let layout = SparseLayout.isWorthIt(dtype: t.dtype, count: n, nonZeros: kept)
            ? try SparseLayout(dtype: t.dtype, count: n, nonZeros: kept) : nil
        let width = t.dtype.bits / 8
        let outBytes = layout?.payloadBytes ?? n * width
        nonisolated(unsafe) var figures: [ErrorFigures] = []
        let buffer = ByteBuffer.build(count: outBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            nonisolated(unsafe) let dst = out.baseAddress!
            dense.data.withUnsafeBytes { src in
                nonisolated(unsafe) let source = src.baseAddress!
                figures = Parallel.map(chunks) { c -> ErrorFigures in
                    let range = (c * chunk)..<min(n, (c + 1) * chunk)
                    let w = Writer(dst: dst, source: source, values: v, layout: layout, slot: offsets[c], slotEnd: offsets[c + 1])
                    switch width {
                    case 1: return w.run(UInt8.self, range, decision, quota[c])
                    case 2: return w.run(UInt16.self, range, decision, quota[c])
                    case 4:
                        if case .threshold(let th, _) = decision, kernel != .reference {
                            return w.runThreshold32(range, th, quota[c], kernel: kernel)
                        }
                        return w.run(UInt32.self, range, decision, quota[c])
                    default: return w.run(UInt64.self, range, decision, quota[c])
                    }
                }
            }
        }
        var total = ErrorFigures()
        for f in figures { total.merge(f) }
        let encoding: TensorEncoding = layout.map { .sparse(nonZeros: $0.nonZeros) } ?? .dense
        let out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, encoding: encoding, data: TensorData(buffer))
        return (out, TensorReport(name: t.name, scheme: scheme, bytesBefore: t.storedBytes, bytesAfter: out.storedBytes, elements: n,
                                  signalEnergy: total.signal, errorEnergy: total.error, maxAbsError: total.maxAbs,
                                  zerosAfter: n - kept + total.zerosAfter))
    }

    /// Elements with |x| above, and equal to, a threshold (bit patterns), eight at a time.
    static func countAbove(_ v: UnsafeBufferPointer<Float>, _ range: Range<Int>, _ t: UInt32) -> (Int, Int) {
        let bits = UnsafeRawPointer(v.baseAddress!).assumingMemoryBound(to: UInt32.self)
        let mask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF), tv = SIMD8<UInt32>(repeating: t)
        var above = SIMD8<Int32>(), equal = SIMD8<Int32>()
        var k = range.lowerBound
        while k + 8 <= range.upperBound {
            let m = UnsafeRawPointer(bits + k).loadUnaligned(as: SIMD8<UInt32>.self) & mask
            above &-= unsafeBitCast(m .> tv, to: SIMD8<Int32>.self)
            equal &-= unsafeBitCast(m .== tv, to: SIMD8<Int32>.self)
            k += 8
        }
        var a = Int(above.wrappedSum()), e = Int(equal.wrappedSum())
        while k < range.upperBound {
            let m = bits[k] & 0x7FFF_FFFF
            if m > t { a += 1 } else if m == t { e += 1 }
            k += 1
        }
        return (a, e)
    }

    // Per-chunk figures are `ErrorFigures`: Σx², Σ(pruned x)², the largest pruned |x|, and in
    // `zerosAfter` the kept values that are zero (pruned ones are counted from the mask).

    /// Pass 2 over one chunk, for elements of `T`'s width.
    struct Writer {
        let dst: UnsafeMutableRawPointer
        let source: UnsafeRawPointer
        let values: UnsafeBufferPointer<Float>
        let layout: SparseLayout?
        let slot: Int
        /// First slot of the next chunk: whole-group stores must stay before it.
        var slotEnd: Int = .max

        /// The f32 threshold case, eight lanes at a time without data-dependent branches per
        /// element: the keep mask of eight values is one mask byte; kept values are copied by
        /// walking its set bits; lanes tied with the threshold (rare) take the plain path.
        func runThreshold32(_ range: Range<Int>, _ th: MagnitudeThreshold.Result, _ quota: Int, kernel: PruneKernel) -> ErrorFigures {
            var f = ErrorFigures()
            var slot = self.slot
            var ties = quota
            let bits = UnsafeRawPointer(values.baseAddress!).assumingMemoryBound(to: UInt32.self)
            let src = source.assumingMemoryBound(to: UInt32.self)
            let maskBytes = dst.assumingMemoryBound(to: UInt8.self)
            let valuesOut = layout.map { (dst + $0.valuesOffset).assumingMemoryBound(to: UInt32.self) }
            let denseOut = dst.assumingMemoryBound(to: UInt32.self)
            let tv = SIMD8<UInt32>(repeating: th.bits), absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            let lane = SIMD8<UInt32>(1, 2, 4, 8, 16, 32, 64, 128)
            var sums = PartialSquares<SIMD8<Float>>(), mx = SIMD8<Float>()
            var keptZeros = 0
            var k = range.lowerBound
            // AVX2 (C, runtime dispatch) for the sparse output while whole groups fit; this
            // loop finishes the chunk or does all of it on CPUs without AVX2.
            if let valuesOut, !th.keepNone, kernel == .avx2, PruneKernels.avx2Available {
                var st = PruneKernels.State(k: k, slot: slot, ties: ties)
                PruneKernels.sparseF32(bits: bits, end: range.upperBound, threshold: th.bits, maskBytes: maskBytes,
                                       values: valuesOut, slotEnd: slotEnd, state: &st)
                k = st.k
                slot = st.slot
                ties = st.ties
                keptZeros = st.keptZeros
                f.signal = st.signal
                f.error = st.error
                mx = SIMD8(repeating: st.maxAbs)
            }
            while k + 8 <= range.upperBound {
                let raw = UnsafeRawPointer(bits + k).loadUnaligned(as: SIMD8<UInt32>.self)
                let x = unsafeBitCast(raw, to: SIMD8<Float>.self)
                let m = raw & absMask
                var keep = th.keepNone ? SIMDMask<SIMD8<Int32>>(repeating: false) : (m .> tv)
                let tie = m .== tv
                if !th.keepNone && any(tie) {
                    // Ties in order, while the quota lasts.
                    for j in 0..<8 where tie[j] && ties > 0 {
                        keep[j] = true
                        ties -= 1
                    }
                }
                let lost = x.replacing(with: 0, where: keep)
                sums.add(x, lost: lost)
                mx = lanewiseMax(mx, lost.replacing(with: -lost, where: lost .< 0))
                let selected = SIMD8<UInt32>(repeating: 0).replacing(with: lane, where: keep)
                let byte = UInt8(truncatingIfNeeded: selected.wrappedSum())
                if let valuesOut {
                    maskBytes[k >> 3] = byte
                    var b = byte
                    while b != 0 {
                        let i = b.trailingZeroBitCount
                        valuesOut[slot] = src[k + i]
                        if src[k + i] & 0x7FFF_FFFF == 0 { keptZeros += 1 }
                        slot += 1
                        b &= b - 1
                    }
                } else {
                    let v = UnsafeRawPointer(src + k).loadUnaligned(as: SIMD8<UInt32>.self)
                    UnsafeMutableRawPointer(denseOut + k).storeBytes(of: SIMD8<UInt32>(repeating: 0).replacing(with: v, where: keep),
                                                                      as: SIMD8<UInt32>.self)
                    keptZeros += Int(byte.nonzeroBitCount) - Int(UInt8(truncatingIfNeeded: SIMD8<UInt32>(repeating: 0)
                        .replacing(with: lane, where: keep .& (m .!= 0)).wrappedSum()).nonzeroBitCount)
                }
                k += 8
                sums.flush(into: &f, before: k)
            }
            sums.flush(into: &f)
            f.maxAbs = Double(max(max(max(mx[0], mx[1]), max(mx[2], mx[3])), max(max(mx[4], mx[5]), max(mx[6], mx[7]))))
            f.zerosAfter = keptZeros
            // The tail (fewer than eight) through the plain loop, continuing the counters.
            if k < range.upperBound {
                let tail = Writer(dst: dst, source: source, values: values, layout: layout, slot: slot)
                    .run(UInt32.self, k..<range.upperBound, .threshold(th, ties: 0), ties)
                f.merge(tail)
            }
            return f
        }

        @inline(__always)
        func run<T: FixedWidthInteger>(_: T.Type, _ range: Range<Int>, _ decision: Decision, _ quota: Int) -> ErrorFigures {
            var f = ErrorFigures()
            var slot = self.slot
            var ties = quota
            let src = source.assumingMemoryBound(to: T.self)
            let bits = UnsafeRawPointer(values.baseAddress!).assumingMemoryBound(to: UInt32.self)
            var keepNone = false, threshold: UInt32 = 0
            var mask: [Bool] = []
            switch decision {
            case .threshold(let th, _):
                keepNone = th.keepNone
                threshold = th.bits
            case .mask(let m): mask = m
            }
            let useMask = !mask.isEmpty
            let denseOut = dst.assumingMemoryBound(to: T.self)
            let maskBytes = dst.assumingMemoryBound(to: UInt8.self)
            let valuesOut = layout.map { (dst + $0.valuesOffset).assumingMemoryBound(to: T.self) }
            var sums = PartialSquares<Float>()
            for k in range {
                let x = values[k]
                sums.add(x)
                var keep: Bool
                if useMask {
                    keep = mask[k]
                } else {
                    let m = bits[k] & 0x7FFF_FFFF
                    keep = !keepNone && (m > threshold || (m == threshold && ties > 0))
                    if keep && m == threshold { ties -= 1 }
                }
                if keep {
                    if x == 0 { f.zerosAfter += 1 }
                    if let valuesOut {
                        maskBytes[k >> 3] |= UInt8(1 << (k & 7))
                        valuesOut[slot] = src[k]
                        slot += 1
                    } else {
                        denseOut[k] = src[k]
                    }
                } else {
                    sums.addLost(x)
                    f.maxAbs = max(f.maxAbs, Double(abs(x)))
                }
                sums.flush(into: &f, before: k + 1)
            }
            sums.flush(into: &f)
            return f
        }
    }
}
