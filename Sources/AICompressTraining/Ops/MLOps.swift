import Foundation

/// The ai.onnx.ml operators scikit-learn exports for linear models (skl2onnx): LinearClassifier,
/// LinearRegressor, Normalizer, Scaler, ArrayFeatureExtractor, and ZipMap (kept as its
/// probability tensor). Forward only: their parameters are attributes, not trainable tensors.
enum MLOps {
    /// The operator domain of these ops.
    static let domain = "ai.onnx.ml"

    static let definitions: [OpDefinition] = [
        OpDefinition("ArrayFeatureExtractor", domain: domain,
                     forward: { ctx, ins throws(ExecutionError) in [try arrayFeatureExtractor(ctx, try ctx.input(ins, 0), try ctx.input(ins, 1))] }),
        OpDefinition("LinearClassifier", domain: domain, forward: { ctx, ins throws(ExecutionError) in try linearClassifier(ctx, try ctx.input(ins, 0)) }),
        OpDefinition("LinearRegressor", domain: domain, forward: { ctx, ins throws(ExecutionError) in try linearRegressor(ctx, try ctx.input(ins, 0)) }),
        OpDefinition("Normalizer", domain: domain, traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try normalizer(ctx, try ctx.input(ins, 0))] }),
        OpDefinition("Scaler", domain: domain, traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try scaler(ctx, try ctx.input(ins, 0))] }),
        // A sequence of {class: probability} maps in ONNX; here its probability tensor, which is
        // what evaluate and predict use.
        OpDefinition("ZipMap", domain: domain, traits: .shapePreserving, forward: { ctx, ins throws(ExecutionError) in [try ctx.floatInput(ins, 0)] }),
    ]

    /// Rows × features of a 1-D or 2-D input.
    static func rows(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> (Int, Int) {
        switch x.rank {
        case 1: return (1, x.count)
        case 2: return (x.shape[0], x.shape[1])
        default: throw ctx.mismatch("input must be 1-D or 2-D, got \(x.shape)")
        }
    }

    /// X · Wᵀ + b with W [targets, features] from the attributes.
    static func linear(_ ctx: OpContext, _ x: NDArray, targets: Int) throws(ExecutionError) -> [Float] {
        let (n, f) = try rows(ctx, x)
        try ctx.checkSize([n, targets])
        try ctx.checkSize([targets, f])
        guard let w = ctx.floats("coefficients"), w.count == targets * f else {
            throw ctx.mismatch("coefficients must hold \(targets) × \(f) values")
        }
        let b = ctx.floats("intercepts") ?? []
        guard b.isEmpty || b.count == targets else { throw ctx.mismatch("intercepts must hold \(targets) values") }
        var y = [Float](repeating: 0, count: n * targets)
        if n > 0 && targets > 0 && f > 0 {
            BLAS.gemm(transA: false, transB: true, m: n, n: targets, k: f, x.asFloats, w, into: &y)
        }
        if !b.isEmpty { for i in 0..<n { for t in 0..<targets { y[i * targets + t] += b[t] } } }
        return y
    }

    static func postTransform(_ ctx: OpContext, _ y: inout [Float], rows n: Int, columns c: Int) throws(ExecutionError) {
        switch ctx.string("post_transform", "NONE") {
        case "NONE": break
        case "LOGISTIC": for i in y.indices { y[i] = Elementwise.sigmoid(y[i]) }
        case "SOFTMAX": Normalization.softmaxInPlace(&y, outer: n, n: c, inner: 1, log: false)
        case let other: throw ctx.unsupported("post_transform \(other)")
        }
    }

    static func linearClassifier(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> [NDArray] {
        // string labels are computed as their indices (Network.stringLabels maps them back)
        let labels: [Int64]
        if case .ints(let l)? = ctx.node.attribute("classlabels_ints") { labels = l } else if case .strings(let l)? = ctx.node.attribute("classlabels_strings") {
            labels = (0..<Int64(l.count)).map { $0 }
        } else {
            throw ctx.unsupported("no class labels (classlabels_ints or classlabels_strings)")
        }
        let classes = labels.count
        guard let w = ctx.floats("coefficients"), classes >= 2, w.count % classes == 0, w.count / classes == (try rows(ctx, x)).1 else {
            throw ctx.unsupported("binary classifiers with one coefficient row are not supported; "
                + "need one row of coefficients per class (\(classes) classes)")
        }
        let n = try rows(ctx, x).0
        var scores = try linear(ctx, x, targets: classes)
        try postTransform(ctx, &scores, rows: n, columns: classes)
        var out = [Int64](repeating: 0, count: n)
        for r in 0..<n {
            var best = 0
            for j in 1..<classes where scores[r * classes + j] > scores[r * classes + best] { best = j }
            out[r] = labels[best]
        }
        return [NDArray(shape: [n], ints: out), NDArray(shape: [n, classes], floats: scores)]
    }

    static func linearRegressor(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> [NDArray] {
        let targets = ctx.int("targets", 1)
        guard targets >= 1 else { throw ctx.mismatch("targets must be at least 1") }
        var y = try linear(ctx, x, targets: targets)
        let n = try rows(ctx, x).0
        try postTransform(ctx, &y, rows: n, columns: targets)
        return [NDArray(shape: [n, targets], floats: y)]
    }

    static func normalizer(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        let (n, c) = try rows(ctx, x)
        var y = x.asFloats
        let norm = ctx.string("norm", "MAX")
        for r in 0..<n {
            var d: Float = 0
            for j in 0..<c {
                let v = y[r * c + j]
                switch norm {
                case "MAX": d = max(d, v)
                case "L1": d += abs(v)
                case "L2": d += v * v
                default: break
                }
            }
            guard ["MAX", "L1", "L2"].contains(norm) else { throw ctx.unsupported("norm \(norm)") }
            if norm == "L2" { d = d.squareRoot() }
            if d != 0 { for j in 0..<c { y[r * c + j] /= d } }
        }
        return NDArray(shape: x.shape, floats: y)
    }

    static func scaler(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        let (n, c) = try rows(ctx, x)
        let offset = ctx.floats("offset") ?? [0], scale = ctx.floats("scale") ?? [1]
        guard [1, c].contains(offset.count), [1, c].contains(scale.count) else {
            throw ctx.mismatch("offset and scale must hold 1 or \(c) values")
        }
        var y = x.asFloats
        for r in 0..<n { for j in 0..<c {
            y[r * c + j] = (y[r * c + j] - offset[offset.count == 1 ? 0 : j]) * scale[scale.count == 1 ? 0 : j]
        } }
        return NDArray(shape: x.shape, floats: y)
    }

    /// ai.onnx.ml ArrayFeatureExtractor: picks entries of the last axis.
    static func arrayFeatureExtractor(_ ctx: OpContext, _ x: NDArray, _ ind: NDArray) throws(ExecutionError) -> NDArray {
        let n = x.shape.last ?? 1
        let outer = x.count / max(n, 1)
        let idx = ind.asInts
        try ctx.checkSize([outer, idx.count])
        var src = [Int]()
        for o in 0..<outer {
            for j in idx {
                guard j >= 0, Int(j) < n else { throw ctx.mismatch("index \(j) is out of range for \(n) features") }
                src.append(o * n + Int(j))
            }
        }
        let shape = x.rank <= 1 ? [1, idx.count] : Array(x.shape.dropLast()) + [idx.count]
        return x.gathered(src, shape: shape)
    }
}
