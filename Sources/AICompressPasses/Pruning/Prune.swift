import AICompressCore

/// The pruning pass: unstructured magnitude pruning (per tensor or with one global threshold),
/// N:M semi-structured sparsity along the reduction axis, and structured removal of output
/// channels (see `ChannelPruning`). Pruned tensors are stored sparse when that is smaller.
///
/// ```swift
/// let (pruned, report) = try Prune(method: .magnitude(keep: 0.3, scope: .global)).apply(model)
/// ```
public struct Prune: CompressionPass {
    public enum Scope: String, Sendable { case tensor, global }
    public enum Norm: String, Sendable { case l1, l2 }

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
            // One threshold over every selected tensor: two read passes, no copies.
            var views: [FloatView] = []
            defer { views.forEach { $0.release() } }
            for t in selected {
                let v = try FloatView(t)
                views.append(v)
                try Prune.checkFinite(t, v.values)
            }
            let total = selected.reduce(0) { $0 + $1.elementCount }
            let k = Prune.keepCount(keep, of: total)
            let threshold = MagnitudeThreshold.select(views.map(\.values), keep: k)
            // Ties at the threshold are kept in model order, then index order.
            var quota: [String: Int] = [:]
            var remaining = threshold.tiesToKeep
            for (t, v) in zip(selected, views) {
                let ties = threshold.keepNone ? 0 : Prune.countEqual(v.values, threshold.bits)
                quota[t.name] = min(ties, remaining)
                remaining -= quota[t.name]!
            }
            return MagnitudeTransform(selected: Set(selected.map(\.name)), global: threshold, tieQuota: quota, keep: keep)
        case .magnitude(let keep, .tensor):
            return MagnitudeTransform(selected: Set(selected.map(\.name)), global: nil, tieQuota: [:], keep: keep)
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

    static func countEqual(_ v: UnsafeBufferPointer<Float>, _ bits: UInt32) -> Int {
        var n = 0
        for x in v where MagnitudeThreshold.magnitudeBits(x) == bits { n += 1 }
        return n
    }

    /// A tensor like `t` with the values where `keep` is false set to zero, stored sparse when
    /// that is smaller, and its report.
    static func masked(_ t: Tensor, _ values: UnsafeBufferPointer<Float>, scheme: String, keep: (Int) -> Bool) throws -> (Tensor, TensorReport) {
        let n = t.elementCount
        let dense = try t.densified()
        let width = t.dtype.bits / 8
        var signal = 0.0, error = 0.0, maxAbs = 0.0, zeros = 0
        let buffer = ByteBuffer.build(count: n * width) { out in
            dense.data.withUnsafeBytes { src in out.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: n * width) }
            for k in 0..<n {
                let x = Double(values[k])
                signal += x * x
                if keep(k) {
                    if values[k] == 0 { zeros += 1 }
                } else {
                    (out.baseAddress! + k * width).initializeMemory(as: UInt8.self, repeating: 0, count: width)
                    error += x * x
                    maxAbs = max(maxAbs, abs(x))
                    zeros += 1
                }
            }
        }
        let nonZeros = n - zeros
        var out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, data: TensorData(buffer))
        if SparseLayout.isWorthIt(dtype: t.dtype, count: n, nonZeros: nonZeros) {
            let (sparse, stored) = SparseLayout.encode(dense: buffer.bytes, dtype: t.dtype, count: n)
            out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, encoding: .sparse(nonZeros: stored), data: TensorData(sparse))
        }
        return (out, TensorReport(name: t.name, scheme: scheme, bytesBefore: t.storedBytes, bytesAfter: out.storedBytes, elements: n,
                                  signalEnergy: signal, errorEnergy: error, maxAbsError: maxAbs, zerosAfter: zeros))
    }

    struct MagnitudeTransform: TensorTransform {
        let selected: Set<String>
        let global: MagnitudeThreshold.Result?
        let tieQuota: [String: Int]
        let keep: Double

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard selected.contains(t.name) else { return (t, nil) }
            let view = try FloatView(t)
            defer { view.release() }
            let v = view.values
            try Prune.checkFinite(t, v)
            let threshold: MagnitudeThreshold.Result
            var ties: Int
            if let global {
                threshold = global
                ties = tieQuota[t.name] ?? 0
            } else {
                threshold = MagnitudeThreshold.select([v], keep: Prune.keepCount(keep, of: v.count))
                ties = threshold.tiesToKeep
            }
            let scheme = "magnitude keep \(keep)" + (global == nil ? "" : " (global)")
            let (out, report) = try Prune.masked(t, v, scheme: scheme) { k in
                if threshold.keepNone { return false }
                let b = MagnitudeThreshold.magnitudeBits(v[k])
                if b > threshold.bits { return true }
                if b == threshold.bits && ties > 0 {
                    ties -= 1
                    return true
                }
                return false
            }
            return (out, report)
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
            var group: [Int] = []
            for o in 0..<outer {
                for i in 0..<inner {
                    var start = 0
                    while start < length {
                        let end = min(length, start + m)
                        group = (start..<end).map { (o * length + $0) * inner + i }
                        // The n largest magnitudes; ties go to the lower index.
                        group.sort { abs(v[$0]) != abs(v[$1]) ? abs(v[$0]) > abs(v[$1]) : $0 < $1 }
                        for k in group.prefix(n) { keepMask[k] = true }
                        start = end
                    }
                }
            }
            return try Prune.masked(t, v, scheme: "\(n):\(m) along axis \(axis)") { keepMask[$0] }
        }
    }
}
