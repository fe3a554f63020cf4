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
    }

    @inline(__always)
    static func magnitudeBits(_ x: Float) -> UInt32 { x.bitPattern & 0x7FFF_FFFF }

    /// The threshold keeping exactly `k` of the values in `runs` (all runs together).
    public static func select(_ runs: [UnsafeBufferPointer<Float>], keep k: Int) -> Result {
        let total = runs.reduce(0) { $0 + $1.count }
        guard k > 0 else { return Result(bits: UInt32.max, greater: 0, tiesToKeep: 0, keepNone: true) }
        guard k < total else { return Result(bits: 0, greater: 0, tiesToKeep: 0, keepNone: false).allKept(total) }
        // Pass 1: the high 16 bits.
        let high = histogram(runs)
        var above = 0
        var bucket = 0xFFFF
        while bucket >= 0 {
            if above + high[bucket] >= k { break }
            above += high[bucket]
            bucket -= 1
        }
        // Pass 2: the low 16 bits inside that bucket.
        let b = UInt32(bucket)
        let low = histogram(runs, only: b)
        var greater = above
        var l = 0xFFFF
        while l >= 0 {
            if greater + low[l] >= k { break }
            greater += low[l]
            l -= 1
        }
        return Result(bits: b << 16 | UInt32(l), greater: greater, tiesToKeep: k - greater, keepNone: false)
    }

    /// A 65,536-bucket histogram of the high 16 bits of |x| (or, with `only`, of the low 16 bits
    /// of the values whose high bits are `only`), counted in a few large pieces in parallel.
    static func histogram(_ runs: [UnsafeBufferPointer<Float>], only: UInt32? = nil) -> [Int] {
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
                for run in runsCopy {
                    let start = max(lo - offset, 0), end = min(hi - offset, run.count)
                    if start < end, let base = run.baseAddress {
                        let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
                        if let only {
                            for k in start..<end {
                                let b = bits[k] & 0x7FFF_FFFF
                                if b >> 16 == only { h[Int(b & 0xFFFF)] &+= 1 }
                            }
                        } else {
                            for k in start..<end { h[Int((bits[k] & 0x7FFF_FFFF) >> 16)] &+= 1 }
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
        MagnitudeThreshold.Result(bits: 0, greater: 0, tiesToKeep: n, keepNone: false)
    }
}
