import Foundation
import AICompressCore

/// Exact top-k selection by magnitude in linear time: a two-pass radix select over the bit
/// patterns of |w| as f32 (which order like the magnitudes for finite values), with histograms
/// built in parallel. No sort, no copy of the weights.
public enum MagnitudeThreshold {
    /// The k-th largest magnitude and how many values are strictly larger.
    public struct Result: Sendable, Equatable {
        /// Bit pattern of the threshold magnitude; values above it are kept, values equal to it
        /// are kept in order until `tiesToKeep` are.
        public let bits: UInt32
        public let greater: Int
        public let tiesToKeep: Int
        /// True when nothing is kept (k = 0).
        public let keepNone: Bool
        /// Elements whose magnitude equals the threshold, in all runs (so callers can tell when
        /// every tie is kept and skip counting ties per tensor).
        public var ties: Int = 0
        /// NaN and infinite values seen (their magnitudes fall in the top buckets); the result
        /// is meaningless when this is not zero.
        public var nonFinite: Int = 0

        /// Whether every element equal to the threshold is kept.
        public var keepsAllTies: Bool { keepNone ? ties == 0 : tiesToKeep >= ties }
    }

    @inline(__always)
    static func magnitudeBits(_ x: Float) -> UInt32 { x.bitPattern & 0x7FFF_FFFF }

    /// Per run, per chunk of `chunkSize` elements (from the run's start): elements surely kept
    /// (|x| above the threshold) and elements equal to it. Filled by the second pass of
    /// `select`, so the writer needs no counting pass of its own.
    public struct ChunkCounts: Sendable {
        public var chunkSize: Int
        public var runs: [[(sure: Int, ties: Int)]]
    }

    /// `select`, also giving the per-chunk counts when the second pass ran (nil when the answer
    /// was found without it: keep none or all, or non-finite values).
    /// - Parameter release: called with a run and an element range once both passes are done
    ///   with it, so that a caller reading mapped files can drop those pages as it goes.
    public static func selectCounting(_ runs: [UnsafeBufferPointer<Float>], keep k: Int,
                                      chunkSize: Int = 1 << 16,
                                      release: (@Sendable (Int, Range<Int>) -> Void)? = nil) -> (Result, ChunkCounts?) {
        var counts: ChunkCounts? = nil
        let r = select(runs, keep: k, chunkSize: chunkSize, counts: &counts, release: release)
        return (r, counts)
    }

    /// The threshold keeping exactly `k` of the values in `runs` (all runs together).
    public static func select(_ runs: [UnsafeBufferPointer<Float>], keep k: Int) -> Result {
        var counts: ChunkCounts? = nil
        return select(runs, keep: k, chunkSize: 0, counts: &counts)
    }

    static func select(_ runs: [UnsafeBufferPointer<Float>], keep k: Int, chunkSize: Int, counts: inout ChunkCounts?,
                       release: (@Sendable (Int, Range<Int>) -> Void)? = nil) -> Result {
        let total = runs.reduce(0) { $0 + $1.count }
        // Pass 1: the high 16 bits; NaN and ±Inf land in buckets 0x7F80 and above.
        let high = histogram(runs, release: release)
        let nonFinite = high[0x7F80...].reduce(0, +)
        guard nonFinite == 0 else {
            return Result(bits: 0, greater: 0, tiesToKeep: 0, keepNone: false, ties: 0, nonFinite: nonFinite)
        }
        guard k > 0 else { return Result(bits: UInt32.max, greater: 0, tiesToKeep: 0, keepNone: true) }
        guard k < total else { return Result(bits: 0, greater: 0, tiesToKeep: 0, keepNone: false).allKept(total) }
        let (bucket, above) = critical(high, above: 0, keep: k)
        // Pass 2: the low 16 bits inside that bucket (and, per chunk, what lies above it).
        let b = UInt32(bucket)
        let second = chunkSize > 0 ? secondPass(runs, bucket: b, chunkSize: chunkSize, release: release) : nil
        let low = second?.low ?? histogram(runs, only: b, release: release)
        let (l, greater) = critical(low, above: above, keep: k)
        if let second {
            var sure = second.above, ties = [Int](repeating: 0, count: sure.count)
            for (chunk, value) in second.inBucket {
                if Int(value) > l { sure[Int(chunk)] += 1 } else if Int(value) == l { ties[Int(chunk)] += 1 }
            }
            var perRun = [[(sure: Int, ties: Int)]]()
            var c = 0
            for run in runs {
                let n = (run.count + chunkSize - 1) / chunkSize
                perRun.append((0..<n).map { (sure[c + $0], ties[c + $0]) })
                c += n
            }
            counts = ChunkCounts(chunkSize: chunkSize, runs: perRun)
        }
        return Result(bits: b << 16 | UInt32(l), greater: greater, tiesToKeep: k - greater, keepNone: false, ties: low[l])
    }

    /// Walking `histogram` down from its top bin, starting with `above` values already counted
    /// above it: the bin where the count reaches `k`, and how many lie above that bin. The one
    /// walk of both passes here and of the sharded merge (`GlobalPruneThreshold`), so both give
    /// the same threshold. Needs `above` plus the histogram's sum to reach `k`.
    static func critical(_ histogram: [Int], above: Int, keep k: Int) -> (bin: Int, above: Int) {
        var above = above
        var bin = histogram.count - 1
        while bin > 0 {
            if above + histogram[bin] >= k { break }
            above += histogram[bin]
            bin -= 1
        }
        return (bin, above)
    }

    /// The second pass with chunk bookkeeping: the low-16-bit histogram of bucket `b`, per chunk
    /// the count of values whose high bits exceed `b`, and (chunk, low bits) of each value in
    /// `b` — few, since one bucket spans 1/128 of an octave. Eight lanes at a time; the rare
    /// lanes in the bucket take a scalar path.
    static func secondPass(_ runs: [UnsafeBufferPointer<Float>], bucket b: UInt32, chunkSize: Int,
                           release: (@Sendable (Int, Range<Int>) -> Void)? = nil)
        -> (low: [Int], above: [Int], inBucket: [(Int32, UInt16)]) {
        // global chunk index of each run's first chunk
        var firstChunk = [Int]()
        var totalChunks = 0
        for run in runs {
            firstChunk.append(totalChunks)
            totalChunks += (run.count + chunkSize - 1) / chunkSize
        }
        // Work items are whole chunks, so each counter has one writer.
        var items = [(run: Int, start: Int, end: Int, chunk: Int)]()
        for (r, run) in runs.enumerated() {
            var s = 0
            while s < run.count {
                items.append((r, s, min(run.count, s + chunkSize), firstChunk[r] + s / chunkSize))
                s += chunkSize
            }
        }
        let spans = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count))
        nonisolated(unsafe) let runsCopy = runs
        let parts = Parallel.map(spans) { sp -> ([Int32], [(Int, Int)], [(Int32, UInt16)]) in
            var h = [Int32](repeating: 0, count: 65536)
            var above = [(Int, Int)]()
            var list = [(Int32, UInt16)]()
            let tv = SIMD8<UInt32>(repeating: b), absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            for item in items[(items.count * sp / spans)..<(items.count * (sp + 1) / spans)] {
                guard let base = runsCopy[item.run].baseAddress else { continue }
                let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
                var count = SIMD8<Int32>()
                var k = item.start
                while k + 8 <= item.end {
                    let hi = (UnsafeRawPointer(bits + k).loadUnaligned(as: SIMD8<UInt32>.self) & absMask) &>> 16
                    count &-= unsafeBitCast(hi .> tv, to: SIMD8<Int32>.self)
                    let inb = hi .== tv
                    if any(inb) {
                        for j in 0..<8 where inb[j] {
                            let low = UInt16(truncatingIfNeeded: bits[k + j])
                            h[Int(low)] &+= 1
                            list.append((Int32(item.chunk), low))
                        }
                    }
                    k += 8
                }
                var n = Int(count.wrappedSum())
                while k < item.end {
                    let m = bits[k] & 0x7FFF_FFFF
                    if m >> 16 > b { n += 1 } else if m >> 16 == b {
                        h[Int(m & 0xFFFF)] &+= 1
                        list.append((Int32(item.chunk), UInt16(m & 0xFFFF)))
                    }
                    k += 1
                }
                above.append((item.chunk, n))
                release?(item.run, item.start..<item.end)
            }
            return (h, above, list)
        }
        var low = [Int](repeating: 0, count: 65536)
        var above = [Int](repeating: 0, count: totalChunks)
        var inBucket = [(Int32, UInt16)]()
        for (h, a, l) in parts {
            for i in 0..<65536 { low[i] += Int(h[i]) }
            for (c, n) in a { above[c] += n }
            inBucket += l
        }
        return (low, above, inBucket)
    }

    /// A 65,536-bucket histogram of the high 16 bits of |x| (or, with `only`, of the low 16 bits
    /// of the values whose high bits are `only`), counted in a few large pieces in parallel.
    static func histogram(_ runs: [UnsafeBufferPointer<Float>], only: UInt32? = nil,
                          release: (@Sendable (Int, Range<Int>) -> Void)? = nil) -> [Int] {
        // Split the concatenation of all runs into a few spans, one histogram each.
        let total = runs.reduce(0) { $0 + $1.count }
        // One histogram per core: merging 65,536 buckets per span costs more than it saves.
        let spans = max(1, min(ProcessInfo.processInfo.activeProcessorCount, total / (1 << 16)))
        nonisolated(unsafe) let runsCopy = runs
        let parts = Parallel.map(spans) { s -> [Int32] in
            var h = [Int32](repeating: 0, count: 65536)
            let lo = total * s / spans, hi = total * (s + 1) / spans
            h.withUnsafeMutableBufferPointer { h in
                var offset = 0
                for (r, run) in runsCopy.enumerated() {
                    let start = max(lo - offset, 0), end = min(hi - offset, run.count)
                    if start < end, let base = run.baseAddress {
                        let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
                        // In blocks, so that `release` can drop what has been counted.
                        var blockStart = start
                        while blockStart < end {
                            let blockEnd = min(end, blockStart + (1 << 20))
                            if let only {
                                for k in blockStart..<blockEnd {
                                    let b = bits[k] & 0x7FFF_FFFF
                                    if b >> 16 == only { h[Int(b & 0xFFFF)] &+= 1 }
                                }
                            } else {
                                for k in blockStart..<blockEnd { h[Int((bits[k] & 0x7FFF_FFFF) >> 16)] &+= 1 }
                            }
                            release?(r, blockStart..<blockEnd)
                            blockStart = blockEnd
                        }
                    }
                    offset += run.count
                }
            }
            return h
        }
        var out = [Int](repeating: 0, count: 65536)
        for p in parts { for i in 0..<65536 { out[i] += Int(p[i]) } }
        return out
    }
}

extension MagnitudeThreshold.Result {
    func allKept(_ n: Int) -> MagnitudeThreshold.Result {
        // Threshold 0 with every zero counted as a tie to keep: keeps all n.
        MagnitudeThreshold.Result(bits: 0, greater: 0, tiesToKeep: n, keepNone: false, ties: n)
    }
}
