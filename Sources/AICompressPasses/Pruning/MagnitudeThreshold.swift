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
        let high = histogram(runs) { magnitudeBits($0) >> 16 }
        var above = 0
        var bucket = 0xFFFF
        while bucket >= 0 {
            if above + high[bucket] >= k { break }
            above += high[bucket]
            bucket -= 1
        }
        // Pass 2: the low 16 bits inside that bucket.
        let b = UInt32(bucket)
        let low = histogram(runs, only: b) { magnitudeBits($0) & 0xFFFF }
        var greater = above
        var l = 0xFFFF
        while l >= 0 {
            if greater + low[l] >= k { break }
            greater += low[l]
            l -= 1
        }
        return Result(bits: b << 16 | UInt32(l), greater: greater, tiesToKeep: k - greater, keepNone: false)
    }

    /// A 65,536-bucket histogram of `key` over all values (optionally only those whose high
    /// 16 bits are `only`), counted in parallel chunks.
    static func histogram(_ runs: [UnsafeBufferPointer<Float>], only: UInt32? = nil, key: @escaping (Float) -> UInt32) -> [Int] {
        struct Piece { let run: Int; let range: Range<Int> }
        var pieces: [Piece] = []
        let chunk = 1 << 20
        for (r, run) in runs.enumerated() {
            var s = 0
            while s < run.count {
                pieces.append(Piece(run: r, range: s..<min(run.count, s + chunk)))
                s += chunk
            }
        }
        nonisolated(unsafe) let runsCopy = runs
        let parts = Parallel.map(pieces.count) { i -> [Int32] in
            var h = [Int32](repeating: 0, count: 65536)
            let p = pieces[i]
            let run = runsCopy[p.run]
            h.withUnsafeMutableBufferPointer { h in
                if let only {
                    for k in p.range where magnitudeBits(run[k]) >> 16 == only { h[Int(key(run[k]))] &+= 1 }
                } else {
                    for k in p.range { h[Int(key(run[k]))] &+= 1 }
                }
            }
            return h
        }
        var total = [Int](repeating: 0, count: 65536)
        for p in parts { for i in 0..<65536 where p[i] != 0 { total[i] += Int(p[i]) } }
        return total
    }
}

extension MagnitudeThreshold.Result {
    func allKept(_ n: Int) -> MagnitudeThreshold.Result {
        // Threshold 0 with every zero counted as a tie to keep: keeps all n.
        MagnitudeThreshold.Result(bits: 0, greater: 0, tiesToKeep: n, keepNone: false)
    }
}
