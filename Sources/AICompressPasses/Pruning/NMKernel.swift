import AICompressCore

extension Prune {
    /// The dedicated N:M writer, for f32 tensors whose groups are contiguous (the reduction axis
    /// is the last one and its length a multiple of m): the kept count is known without a
    /// counting pass (n per group), so chunks write their mask bytes and values in parallel in
    /// one pass. An element is kept when its rank in its group, the number of members whose
    /// magnitude bit pattern (the value without its sign) is larger or equal at a lower index,
    /// is below n. For finite values this is the general path's choice (`NMTransform`: larger
    /// |x| first, ties to the lower index); NaN ranks above infinity, and −0 ties with +0.
    /// `.reference` is the plain loop; `.simd` and `.avx2` (m = 1, 2, 4 or 8) give the same bytes.
    enum NMKernel {
        /// Whether this writer handles a tensor of `dtype` whose groups run along an axis of
        /// `length` with `inner` elements after it, storing it sparse.
        static func applies(dtype: DType, count: Int, inner: Int, length: Int, n: Int, m: Int) -> Bool {
            guard dtype == .f32, count > 0, inner == 1, m <= 4096, length % m == 0, n < m else { return false }
            return SparseLayout.isWorthIt(dtype: .f32, count: count, nonZeros: count / m * n)
        }

        /// The pruned tensor (stored sparse) and its report; requires `applies`.
        static func prune(_ t: Tensor, _ v: UnsafeBufferPointer<Float>, n: Int, m: Int, scheme: String,
                          kernel: PruneKernel) throws -> (Tensor, TensorReport) {
            let count = t.elementCount
            let kept = count / m * n
            let layout = try SparseLayout(dtype: .f32, count: count, nonZeros: kept)
            // Chunks hold whole groups and whole mask bytes.
            var step = m
            while step % 8 != 0 { step += m }
            let chunk = max(step, Prune.chunkSize / step * step)
            let chunks = (count + chunk - 1) / chunk
            nonisolated(unsafe) let bits = UnsafeRawPointer(v.baseAddress!).assumingMemoryBound(to: UInt32.self)
            nonisolated(unsafe) var figures: [ErrorFigures] = []
            let buffer = ByteBuffer.build(count: layout.payloadBytes) { out in
                out.initializeMemory(as: UInt8.self, repeating: 0)
                nonisolated(unsafe) let mask = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                nonisolated(unsafe) let values = (out.baseAddress! + layout.valuesOffset).assumingMemoryBound(to: UInt32.self)
                figures = Parallel.map(chunks) { c -> ErrorFigures in
                    let range = (c * chunk)..<min(count, (c + 1) * chunk)
                    let slot = c * (chunk / m) * n
                    return write(kernel, bits: bits, range, n: n, m: m, mask: mask, values: values,
                                 slot: slot, slotEnd: slot + range.count / m * n)
                }
            }
            var total = ErrorFigures()
            for f in figures { total.merge(f) }
            let out = try Tensor(name: t.name, dtype: .f32, shape: t.shape, encoding: .sparse(nonZeros: kept), data: TensorData(buffer))
            return (out, TensorReport(name: t.name, scheme: scheme, bytesBefore: t.storedBytes, bytesAfter: out.storedBytes,
                                      elements: count, signalEnergy: total.signal, errorEnergy: total.error,
                                      maxAbsError: total.maxAbs, zerosAfter: count - kept + total.zerosAfter))
        }

        /// Writes the groups of `range` (starting on a multiple of 8) with `kernel`, the plain
        /// loop finishing what a fast kernel leaves. `zerosAfter` counts kept zeros only.
        static func write(_ kernel: PruneKernel, bits: UnsafePointer<UInt32>, _ range: Range<Int>, n: Int, m: Int,
                          mask: UnsafeMutablePointer<UInt8>, values: UnsafeMutablePointer<UInt32>,
                          slot: Int, slotEnd: Int) -> ErrorFigures {
            var f = ErrorFigures()
            var k = range.lowerBound, slot = slot
            let lanesHoldGroups = 8 % m == 0
            if lanesHoldGroups, kernel == .avx2, PruneKernels.avx2Available {
                var st = PruneKernels.State(k: k, slot: slot, ties: 0)
                PruneKernels.nmSparseF32(bits: bits, end: range.upperBound, n: n, m: m, maskBytes: mask, values: values,
                                         slotEnd: slotEnd, state: &st)
                (k, slot) = (st.k, st.slot)
                f = ErrorFigures(signal: st.signal, error: st.error, maxAbs: Double(st.maxAbs), zerosAfter: st.keptZeros, elements: 0)
            } else if lanesHoldGroups, kernel != .reference {
                (f, k, slot) = simd(bits: bits, range, n: n, m: m, mask: mask, values: values, slot: slot)
            }
            if k < range.upperBound {
                f.merge(reference(bits: bits, k..<range.upperBound, n: n, m: m, mask: mask, values: values, slot: slot))
            }
            return f
        }

        /// The plain twin: each element's rank by comparing it with every member of its group.
        static func reference(bits: UnsafePointer<UInt32>, _ range: Range<Int>, n: Int, m: Int,
                              mask: UnsafeMutablePointer<UInt8>, values: UnsafeMutablePointer<UInt32>, slot: Int) -> ErrorFigures {
            var f = ErrorFigures()
            var slot = slot
            var sums = PartialSquares<Float>()
            var g = range.lowerBound
            while g < range.upperBound {
                for j in 0..<m {
                    let k = g + j
                    let mine = bits[k] & 0x7FFF_FFFF
                    var rank = 0
                    for i in 0..<m where i != j {
                        let other = bits[g + i] & 0x7FFF_FFFF
                        if other > mine || (other == mine && i < j) { rank += 1 }
                    }
                    let x = Float(bitPattern: bits[k])
                    sums.add(x)
                    if rank < n {
                        mask[k >> 3] |= UInt8(1 << (k & 7))
                        values[slot] = bits[k]
                        slot += 1
                        if mine == 0 { f.zerosAfter += 1 }
                    } else {
                        sums.addLost(x)
                        f.maxAbs = max(f.maxAbs, Double(abs(x)))
                    }
                    sums.flush(into: &f, before: k + 1)
                }
                g += m
            }
            sums.flush(into: &f)
            return f
        }

        /// The Swift SIMD loop for m = 1, 2, 4 or 8: eight lanes hold whole groups; each lane
        /// meets the other members of its group by m − 1 rotations within the group. Returns
        /// where it stopped (before a tail of fewer than eight elements).
        static func simd(bits: UnsafePointer<UInt32>, _ range: Range<Int>, n: Int, m: Int, mask: UnsafeMutablePointer<UInt8>,
                         values: UnsafeMutablePointer<UInt32>, slot: Int) -> (ErrorFigures, Int, Int) {
            var f = ErrorFigures()
            var slot = slot
            var rotations: [(index: [Int], wrap: SIMDMask<SIMD8<Int32>>)] = []
            for d in 1..<max(m, 1) {
                var index = [Int](repeating: 0, count: 8), wrap = SIMDMask<SIMD8<Int32>>(repeating: false)
                for j in 0..<8 {
                    let base = j & ~(m - 1), pos = j & (m - 1)
                    index[j] = base | ((pos + d) & (m - 1))
                    wrap[j] = pos + d >= m
                }
                rotations.append((index, wrap))
            }
            let absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF), lane = SIMD8<UInt32>(1, 2, 4, 8, 16, 32, 64, 128)
            let minusN = SIMD8<Int32>(repeating: Int32(-n))
            var sums = PartialSquares<SIMD8<Float>>(), mx = SIMD8<Float>()
            var keptZeros = 0
            var k = range.lowerBound
            while k + 8 <= range.upperBound {
                let raw = UnsafeRawPointer(bits + k).loadUnaligned(as: SIMD8<UInt32>.self)
                let mag = raw & absMask
                var negRank = SIMD8<Int32>()
                for r in rotations {
                    var other = SIMD8<UInt32>()
                    for j in 0..<8 { other[j] = mag[r.index[j]] }
                    let beats = (other .> mag) .| ((other .== mag) .& r.wrap)
                    negRank &+= unsafeBitCast(beats, to: SIMD8<Int32>.self)
                }
                let keep = negRank .> minusN
                let x = unsafeBitCast(raw, to: SIMD8<Float>.self)
                let lost = x.replacing(with: 0, where: keep)
                sums.add(x, lost: lost)
                mx = lanewiseMax(mx, lost.replacing(with: -lost, where: lost .< 0))
                let byte = UInt8(truncatingIfNeeded: SIMD8<UInt32>(repeating: 0).replacing(with: lane, where: keep).wrappedSum())
                mask[k >> 3] = byte
                var b = byte
                while b != 0 {
                    let i = b.trailingZeroBitCount
                    values[slot] = raw[i]
                    if mag[i] == 0 { keptZeros += 1 }
                    slot += 1
                    b &= b - 1
                }
                k += 8
                sums.flush(into: &f, before: k)
            }
            sums.flush(into: &f)
            f.maxAbs = Double(mx.max())
            f.zerosAfter = keptZeros
            return (f, k, slot)
        }
    }
}
