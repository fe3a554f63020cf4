import AICompressCore
import CKernels

/// The pruning pass: unstructured magnitude pruning (per tensor or with one global threshold),
/// N:M semi-structured sparsity along the reduction axis, and structured removal of output
/// channels (see `ChannelPruning`). Pruned tensors are stored sparse when that is smaller.
///
/// ```swift
/// let (pruned, report) = try Prune(method: .magnitude(keep: 0.3, scope: .global)).apply(model)
/// ```
public struct Prune: CompressionPass {
    public enum Scope: String, Sendable, CaseIterable { case tensor, global }
    public enum Norm: String, Sendable, CaseIterable { case l1, l2 }

    public enum Method: Sendable, Equatable {
        /// Keep the `keep` fraction of weights with the largest magnitude.
        case magnitude(keep: Double, scope: Scope)
        /// In every group of `m` consecutive weights along the reduction axis keep `n`.
        case nm(n: Int, m: Int)
        /// Keep the `keep` fraction of output channels with the largest norm; remove the rest
        /// (and the matching inputs of the next layer) when the graph allows.
        case channels(keep: Double, norm: Norm)
    }

    public var method: Method
    public var selection: TensorSelection

    public init(method: Method, selection: TensorSelection = TensorSelection()) {
        self.method = method
        self.selection = selection
    }

    public var name: String { "prune" }

    public var parameters: [(String, String)] {
        var p: [(String, String)]
        switch method {
        case .magnitude(let keep, let scope): p = [("method", "magnitude"), ("keep", "\(keep)"), ("scope", scope.rawValue)]
        case .nm(let n, let m): p = [("method", "\(n):\(m)")]
        case .channels(let keep, let norm): p = [("method", "channels"), ("keep", "\(keep)"), ("norm", norm.rawValue)]
        }
        return p + selection.parameters
    }

    /// Checks parameter ranges.
    /// - Throws: `PassError.invalidParameter`.
    public func validate() throws {
        switch method {
        case .magnitude(let keep, _), .channels(let keep, _):
            guard keep >= 0, keep <= 1 else { throw PassError.invalidParameter("--keep must be between 0 and 1 (got \(keep))") }
        case .nm(let n, let m):
            guard m >= 1, n >= 0, n <= m else { throw PassError.invalidParameter("--pattern N:M needs 0 <= N <= M and M >= 1 (got \(n):\(m))") }
        }
    }

    public func prepare(_ model: Model) throws -> any TensorTransform {
        try validate()
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let selected = model.tensors.filter { selection.selects($0, embeddings: embeddings) }
        guard !selected.isEmpty else {
            throw PassError.nothingSelected("no floating-point tensor of rank 2 or more matches the selection "
                + "(1-D tensors and embeddings are skipped unless included)")
        }
        let roles = WeightRole.roles(in: model.graph)
        switch method {
        case .magnitude(let keep, .global):
            // One threshold over every selected tensor: two read passes (the first also finds
            // NaN/Inf), no copies.
            var views: [FloatView] = []
            defer { views.forEach { $0.release() } }
            for t in selected { views.append(try FloatView(t)) }
            let total = selected.reduce(0) { $0 + $1.elementCount }
            let k = Prune.keepCount(keep, of: total)
            let (threshold, counts) = MagnitudeThreshold.selectCounting(views.map(\.values), keep: k, chunkSize: Prune.chunkSize)
            if threshold.nonFinite > 0 {
                for (t, v) in zip(selected, views) { try Prune.checkFinite(t, v.values) }
            }
            // Ties at the threshold are kept in model order, then index order; when all of
            // them are kept (the usual case) no tensor needs its ties counted.
            var quota: [String: Int] = [:]
            if !threshold.keepsAllTies {
                var remaining = threshold.tiesToKeep
                for (i, (t, v)) in zip(selected, views).enumerated() {
                    // per-tensor ties: from the selection's chunk counts, else counted
                    let ties = threshold.keepNone || v.values.isEmpty ? 0
                        : counts.map { $0.runs[i].reduce(0) { $0 + $1.ties } } ?? Prune.countAbove(v.values, 0..<v.values.count, threshold.bits).1
                    quota[t.name] = min(ties, remaining)
                    remaining -= quota[t.name]!
                }
            }
            var chunkCounts: [String: [(sure: Int, ties: Int)]] = [:]
            if let counts { for (t, c) in zip(selected, counts.runs) { chunkCounts[t.name] = c } }
            return MagnitudeTransform(selected: Set(selected.map(\.name)), global: threshold, tieQuota: quota, keep: keep,
                                      chunkCounts: chunkCounts)
        case .magnitude(let keep, .tensor):
            return MagnitudeTransform(selected: Set(selected.map(\.name)), global: nil, tieQuota: [:], keep: keep, chunkCounts: [:])
        case .nm(let n, let m):
            return NMTransform(selected: Set(selected.map(\.name)), roles: roles, n: n, m: m)
        case .channels(let keep, let norm):
            return try ChannelPruning.plan(model: model, selected: selected, keep: keep, norm: norm, roles: roles)
        }
    }

    /// round(keep × n).
    static func keepCount(_ keep: Double, of n: Int) -> Int {
        min(n, max(0, Int((keep * Double(n)).rounded(.toNearestOrEven))))
    }

    static func checkFinite(_ t: Tensor, _ v: UnsafeBufferPointer<Float>) throws {
        let bad = Quantize.countNonFinite(v)
        guard bad == 0 else { throw PassError.nonFinite(tensor: t.name, count: bad) }
    }

    /// Which elements a pruning keeps.
    enum Decision {
        /// |x| above the threshold, and the first `ties` elements equal to it.
        case threshold(MagnitudeThreshold.Result, ties: Int)
        case mask([Bool])
    }

    /// A tensor like `t` with the pruned elements zero, stored sparse when that is smaller, and
    /// its report. Two parallel passes over chunks: count what each chunk keeps (so tie quotas
    /// and output offsets are known in order), then write mask bits and values.
    /// Elements per chunk of the writer (a multiple of 8, so chunks own whole mask bytes).
    static let chunkSize = 1 << 16

    static func masked(_ t: Tensor, _ values: UnsafeBufferPointer<Float>, scheme: String, decision: Decision,
                       precounted: [(sure: Int, ties: Int)]? = nil) throws -> (Tensor, TensorReport) {
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
        nonisolated(unsafe) var figures: [Figures] = []
        let buffer = ByteBuffer.build(count: outBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            nonisolated(unsafe) let dst = out.baseAddress!
            dense.data.withUnsafeBytes { src in
                nonisolated(unsafe) let source = src.baseAddress!
                figures = Parallel.map(chunks) { c -> Figures in
                    let range = (c * chunk)..<min(n, (c + 1) * chunk)
                    let w = Writer(dst: dst, source: source, values: v, layout: layout, slot: offsets[c], slotEnd: offsets[c + 1])
                    switch width {
                    case 1: return w.run(UInt8.self, range, decision, quota[c])
                    case 2: return w.run(UInt16.self, range, decision, quota[c])
                    case 4:
                        if case .threshold(let th, _) = decision, !Prune.forceReference {
                            return w.runThreshold32(range, th, quota[c])
                        }
                        return w.run(UInt32.self, range, decision, quota[c])
                    default: return w.run(UInt64.self, range, decision, quota[c])
                    }
                }
            }
        }
        var total = Figures()
        for f in figures { total.merge(f) }
        let encoding: TensorEncoding = layout.map { .sparse(nonZeros: $0.nonZeros) } ?? .dense
        let out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, encoding: encoding, data: TensorData(buffer))
        return (out, TensorReport(name: t.name, scheme: scheme, bytesBefore: t.storedBytes, bytesAfter: out.storedBytes, elements: n,
                                  signalEnergy: total.signal, errorEnergy: total.error, maxAbsError: total.maxAbs,
                                  zerosAfter: n - kept + total.keptZeros))
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

    /// Tests set this to run the plain loop instead of the SIMD one (they must agree bit for bit).
    nonisolated(unsafe) static var forceReference = false
    /// Tests clear this to run the Swift SIMD loop instead of the AVX2 kernel.
    nonisolated(unsafe) static var useNativeKernels = true
    static let avx2 = aic_avx2_available() != 0

    struct Figures {
        var signal = 0.0, error = 0.0, maxAbs = 0.0, keptZeros = 0
        mutating func merge(_ o: Figures) {
            signal += o.signal
            error += o.error
            maxAbs = max(maxAbs, o.maxAbs)
            keptZeros += o.keptZeros
        }
    }

    /// Pass 2 over one chunk, for elements of `T`'s width.
    struct Writer {
        /// The f32 threshold case, eight lanes at a time without data-dependent branches per
        /// element: the keep mask of eight values is one mask byte; kept values are copied by
        /// walking its set bits; lanes tied with the threshold (rare) take the plain path.
        func runThreshold32(_ range: Range<Int>, _ th: MagnitudeThreshold.Result, _ quota: Int) -> Figures {
            var f = Figures()
            var slot = self.slot
            var ties = quota
            let bits = UnsafeRawPointer(values.baseAddress!).assumingMemoryBound(to: UInt32.self)
            let src = source.assumingMemoryBound(to: UInt32.self)
            let maskBytes = dst.assumingMemoryBound(to: UInt8.self)
            let valuesOut = layout.map { (dst + $0.valuesOffset).assumingMemoryBound(to: UInt32.self) }
            let denseOut = dst.assumingMemoryBound(to: UInt32.self)
            let tv = SIMD8<UInt32>(repeating: th.bits), absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            let lane = SIMD8<UInt32>(1, 2, 4, 8, 16, 32, 64, 128)
            var sig = SIMD8<Float>(), err = SIMD8<Float>(), mx = SIMD8<Float>()
            var keptZeros = 0
            var k = range.lowerBound
            // AVX2 (C, runtime dispatch) for the sparse output while whole groups fit; this
            // loop finishes the chunk or does all of it on CPUs without AVX2.
            if let valuesOut, !th.keepNone, Prune.useNativeKernels, Prune.avx2 {
                var st = aic_prune_state(k: Int64(k), slot: Int64(slot), ties: Int64(ties), keptZeros: 0, signal: 0, error: 0, maxAbs: 0)
                aic_prune_f32_sparse_avx2(bits, Int64(range.upperBound), th.bits, maskBytes, valuesOut, Int64(slotEnd), &st)
                k = Int(st.k)
                slot = Int(st.slot)
                ties = Int(st.ties)
                keptZeros = Int(st.keptZeros)
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
                sig += x * x
                err += lost * lost
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
                if k & 4095 == 0 {
                    f.signal += Double(sig.sum())
                    f.error += Double(err.sum())
                    sig = SIMD8()
                    err = SIMD8()
                }
            }
            f.signal += Double(sig.sum())
            f.error += Double(err.sum())
            f.maxAbs = Double(max(max(max(mx[0], mx[1]), max(mx[2], mx[3])), max(max(mx[4], mx[5]), max(mx[6], mx[7]))))
            f.keptZeros = keptZeros
            // The tail (fewer than eight) through the plain loop, continuing the counters.
            if k < range.upperBound {
                let tail = Writer(dst: dst, source: source, values: values, layout: layout, slot: slot)
                    .run(UInt32.self, k..<range.upperBound, .threshold(th, ties: 0), ties)
                f.merge(tail)
            }
            return f
        }

        let dst: UnsafeMutableRawPointer
        let source: UnsafeRawPointer
        let values: UnsafeBufferPointer<Float>
        let layout: SparseLayout?
        let slot: Int
        /// First slot of the next chunk: whole-group stores must stay before it.
        var slotEnd: Int = .max

        @inline(__always)
        func run<T: FixedWidthInteger>(_: T.Type, _ range: Range<Int>, _ decision: Decision, _ quota: Int) -> Figures {
            var f = Figures()
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
            var sig: Float = 0, err: Float = 0
            for k in range {
                let x = values[k]
                sig += x * x
                var keep: Bool
                if useMask {
                    keep = mask[k]
                } else {
                    let m = bits[k] & 0x7FFF_FFFF
                    keep = !keepNone && (m > threshold || (m == threshold && ties > 0))
                    if keep && m == threshold { ties -= 1 }
                }
                if keep {
                    if x == 0 { f.keptZeros += 1 }
                    if let valuesOut {
                        maskBytes[k >> 3] |= UInt8(1 << (k & 7))
                        valuesOut[slot] = src[k]
                        slot += 1
                    } else {
                        denseOut[k] = src[k]
                    }
                } else {
                    err += x * x
                    f.maxAbs = max(f.maxAbs, Double(abs(x)))
                }
                // Float sums flushed to double every 4096 elements keep the rounding small.
                if k & 4095 == 4095 {
                    f.signal += Double(sig)
                    f.error += Double(err)
                    sig = 0
                    err = 0
                }
            }
            f.signal += Double(sig)
            f.error += Double(err)
            return f
        }
    }

    struct MagnitudeTransform: TensorTransform {
        let selected: Set<String>
        let global: MagnitudeThreshold.Result?
        let tieQuota: [String: Int]
        let keep: Double
        /// Per-chunk counts from the global selection's second pass.
        let chunkCounts: [String: [(sure: Int, ties: Int)]]

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard selected.contains(t.name) else { return (t, nil) }
            let view = try FloatView(t)
            defer { view.release() }
            let v = view.values
            let threshold: MagnitudeThreshold.Result
            let ties: Int
            var counts: [(sure: Int, ties: Int)]? = nil
            if let global {
                // finiteness was checked by the global selection
                threshold = global
                ties = global.keepsAllTies ? Int.max : tieQuota[t.name] ?? 0
                counts = chunkCounts[t.name]
            } else {
                let (th, c) = MagnitudeThreshold.selectCounting([v], keep: Prune.keepCount(keep, of: v.count), chunkSize: Prune.chunkSize)
                threshold = th
                if threshold.nonFinite > 0 { try Prune.checkFinite(t, v) }
                ties = threshold.tiesToKeep
                counts = c?.runs.first
            }
            let scheme = "magnitude keep \(keep)" + (global == nil ? "" : " (global)")
            return try Prune.masked(t, v, scheme: scheme, decision: .threshold(threshold, ties: ties), precounted: counts)
        }
    }

    struct NMTransform: TensorTransform {
        let selected: Set<String>
        let roles: [String: WeightRole]
        let n: Int, m: Int

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard selected.contains(t.name) else { return (t, nil) }
            let view = try FloatView(t)
            defer { view.release() }
            let v = view.values
            try Prune.checkFinite(t, v)
            let axis = min((roles[t.name] ?? .outputFirst).reductionAxis, t.shape.rank - 1)
            let dims = t.shape.dims
            let outer = dims[..<axis].reduce(1, *), length = dims[axis], inner = dims[(axis + 1)...].reduce(1, *)
            var keepMask = [Bool](repeating: false, count: v.count)
            let (n, m) = (self.n, self.m)
            keepMask.withUnsafeMutableBufferPointer { maskBuf in
                nonisolated(unsafe) let mask = maskBuf.baseAddress!
                nonisolated(unsafe) let values = v
                // Lines along the axis are independent: (outer, inner) pairs in parallel.
                let lines = outer * inner
                let pieces = max(1, min(lines, 64))
                Parallel.forEach(pieces) { p in
                    var mags = [Float](repeating: 0, count: m)
                    var taken = [Bool](repeating: false, count: m)
                    for line in (lines * p / pieces)..<(lines * (p + 1) / pieces) {
                        let o = line / inner, i = line % inner
                        var start = 0
                        while start < length {
                            let size = min(m, length - start)
                            for j in 0..<size {
                                mags[j] = abs(values[(o * length + start + j) * inner + i])
                                taken[j] = false
                            }
                            // The n largest by repeated selection (n and m are small); ties go
                            // to the lower index because only a strictly larger value replaces.
                            for _ in 0..<min(n, size) {
                                var best = -1
                                for j in 0..<size where !taken[j] && (best < 0 || mags[j] > mags[best]) { best = j }
                                taken[best] = true
                                mask[(o * length + start + best) * inner + i] = true
                            }
                            start += size
                        }
                    }
                }
            }
            return try Prune.masked(t, v, scheme: "\(n):\(m) along axis \(axis)", decision: .mask(keepMask))
        }
    }
}
