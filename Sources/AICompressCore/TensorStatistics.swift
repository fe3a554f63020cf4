/// Summary statistics of a dense tensor's values. Non-finite values (NaN, ±Inf) are counted
/// apart and left out of min, max, mean and standard deviation.
public struct TensorStatistics: Sendable, Equatable {
    /// Number of elements.
    public var count: Int = 0
    /// Elements exactly equal to zero (either sign).
    public var zeros: Int = 0
    /// NaN and infinite elements.
    public var nonFinite: Int = 0
    /// Smallest and largest finite values (nil when there is none).
    public var min: Double? = nil
    public var max: Double? = nil
    /// Mean of the finite values.
    public var mean: Double = 0
    /// Sum of squared deviations from the mean (Chan et al.'s M2), over the finite values.
    var m2: Double = 0

    public init() {}

    /// Number of finite values.
    public var finiteCount: Int { count - nonFinite }

    /// Population standard deviation of the finite values.
    public var standardDeviation: Double { finiteCount > 0 ? (m2 / Double(finiteCount)).squareRoot() : 0 }

    /// Fraction of elements that are zero, in 0...1.
    public var sparsity: Double { count > 0 ? Double(zeros) / Double(count) : 0 }

    /// Merges the statistics of a disjoint part (parallel variance formula of Chan et al.).
    public mutating func merge(_ o: TensorStatistics) {
        let n1 = Double(finiteCount), n2 = Double(o.finiteCount)
        if n2 > 0 {
            if n1 == 0 {
                mean = o.mean
                m2 = o.m2
            } else {
                let n = n1 + n2
                let delta = o.mean - mean
                mean += delta * n2 / n
                m2 += o.m2 + delta * delta * n1 * n2 / n
            }
        }
        count += o.count
        zeros += o.zeros
        nonFinite += o.nonFinite
        if let m = o.min { min = Swift.min(min ?? m, m) }
        if let m = o.max { max = Swift.max(max ?? m, m) }
    }

    /// Statistics of a run of values (the plain reference path, two passes over the run).
    public static func of<C: Collection>(_ values: C) -> TensorStatistics where C.Element == Double {
        var s = TensorStatistics()
        var sum = 0.0
        for v in values {
            s.count += 1
            if v == 0 { s.zeros += 1 }
            guard v.isFinite else { s.nonFinite += 1; continue }
            sum += v
            s.min = Swift.min(s.min ?? v, v)
            s.max = Swift.max(s.max ?? v, v)
        }
        guard s.finiteCount > 0 else { return s }
        s.mean = sum / Double(s.finiteCount)
        var m2 = 0.0
        for v in values where v.isFinite { m2 += (v - s.mean) * (v - s.mean) }
        s.m2 = m2
        return s
    }
}

extension Tensor {
    /// Statistics of the values, computed in parallel over chunks for large tensors.
    public func statistics() -> TensorStatistics {
        // Sparse and ggml tensors are expanded once (one tensor's f32), then take the dense path.
        switch encoding {
        case .sparse, .ggml, .sparseQuantized: if let dense = try? densified() { return dense.statistics() }
        case .dense, .quantized: break
        }
        let n = elementCount
        let chunk = 1 << 12
        let chunkCount = (n + chunk - 1) / chunk
        guard chunkCount > 0 else { return TensorStatistics() }
        // Split the chunks into a few contiguous spans, one task each; merge in span order so the
        // result does not depend on scheduling.
        let spans = Swift.min(chunkCount, n >= 1 << 20 ? 16 : 1)
        let dtype = self.dtype, data = self.data, tensor = self
        let partial = Parallel.map(spans) { span -> TensorStatistics in
            let firstChunk = chunkCount * span / spans, endChunk = chunkCount * (span + 1) / spans
            var s = TensorStatistics()
            for c in firstChunk..<endChunk {
                let range = (c * chunk)..<Swift.min(n, (c + 1) * chunk)
                if tensor.isDense {
                    s.merge(TensorStatistics.ofChunk(dtype: dtype, count: n, data: data, range: range))
                } else {
                    ElementDecoder.forEachChunk(of: tensor, range: range, chunk: range.count) { s.merge(TensorStatistics.of($0)) }
                }
            }
            return s
        }
        var total = TensorStatistics()
        for s in partial { total.merge(s) }
        return total
    }

    /// Counts of finite values in `bins` equal-width bins between `low` and `high`.
    public func histogram(bins: Int, low: Double, high: Double) -> [Int] {
        var counts = [Int](repeating: 0, count: Swift.max(bins, 1))
        let width = (high - low) / Double(counts.count)
        ElementDecoder.forEachChunk(of: self, chunk: 4096) { values in
            for v in values where v.isFinite {
                let b = width > 0 ? Int(((v - low) / width).rounded(.down)) : 0
                counts[Swift.min(Swift.max(b, 0), counts.count - 1)] += 1
            }
        }
        return counts
    }
}

extension TensorStatistics {
    /// Statistics of elements `range` of a dense buffer; f32 runs take a SIMD path.
    static func ofChunk(dtype: DType, count: Int, data: TensorData, range: Range<Int>) -> TensorStatistics {
        if dtype == .f32, let fast = data.withUnsafeBytes({ f32Chunk($0, range) }) { return fast }
        var s = TensorStatistics()
        ElementDecoder.forEachChunk(dtype: dtype, count: count, data: data, range: range, chunk: range.count) {
            s = TensorStatistics.of($0)
        }
        return s
    }

    /// The SIMD path for an f32 run; nil when the run holds a non-finite value (the plain path
    /// then handles it).
    static func f32Chunk(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> TensorStatistics? {
        let base = raw.baseAddress! + 4 * range.lowerBound
        let n = range.count
        let lanes = n / 8
        var sum = SIMD8<Float>(repeating: 0)
        var lo = SIMD8<Float>(repeating: .infinity), hi = SIMD8<Float>(repeating: -.infinity)
        var zeroLanes = SIMD8<Int32>(repeating: 0)
        var bad = SIMD8<Int32>(repeating: 0)
        for i in 0..<lanes {
            let v = base.loadUnaligned(fromByteOffset: 32 * i, as: SIMD8<Float>.self)
            sum += v
            lo = lanewiseMin(lo, v)
            hi = lanewiseMax(hi, v)
            zeroLanes &-= unsafeBitCast(v .== 0, to: SIMD8<Int32>.self)
            // v - v is NaN for NaN and ±Inf, 0 otherwise.
            bad |= unsafeBitCast((v - v) .!= 0, to: SIMD8<Int32>.self)
        }
        guard bad == SIMD8(repeating: 0) else { return nil }
        var s = TensorStatistics()
        var total = Double(sum.sum())
        var minV = Double(lo.min()), maxV = Double(hi.max())
        var zeros = Int(zeroLanes.wrappedSum())
        for k in (lanes * 8)..<n {
            let v = base.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)
            guard v.isFinite else { return nil }
            total += Double(v)
            minV = Swift.min(minV, Double(v))
            maxV = Swift.max(maxV, Double(v))
            if v == 0 { zeros += 1 }
        }
        let mean = total / Double(n)
        // Second pass over the (cache-resident) run for the squared deviations.
        let m = SIMD8<Float>(repeating: Float(mean))
        var sq = SIMD8<Float>(repeating: 0)
        for i in 0..<lanes {
            let d = base.loadUnaligned(fromByteOffset: 32 * i, as: SIMD8<Float>.self) - m
            sq += d * d
        }
        var m2 = Double(sq.sum())
        for k in (lanes * 8)..<n {
            let d = Double(base.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)) - mean
            m2 += d * d
        }
        s.count = n
        s.zeros = zeros
        s.min = n > 0 ? minV : nil
        s.max = n > 0 ? maxV : nil
        s.mean = mean
        s.m2 = m2
        return s
    }
}
