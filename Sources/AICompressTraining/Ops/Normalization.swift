import Foundation

/// Softmax, LogSoftmax and BatchNormalization (with inference statistics), with gradients.
enum Normalization {
    static let definitions: [OpDefinition] = [
        OpDefinition("Softmax", traits: [.shapePreserving, .channelDecision],
                     forward: { ctx, ins throws(ExecutionError) in [try softmax(ctx, try ctx.floatInput(ins, 0), log: false)] },
                     gradient: .init(inputs: [0]) { ctx, _, y, g, _ throws(ExecutionError) in [try softmaxBackward(ctx, y: y, g: g, log: false)] }),
        OpDefinition("LogSoftmax", traits: [.shapePreserving, .channelDecision],
                     forward: { ctx, ins throws(ExecutionError) in [try softmax(ctx, try ctx.floatInput(ins, 0), log: true)] },
                     gradient: .init(inputs: [0]) { ctx, _, y, g, _ throws(ExecutionError) in [try softmaxBackward(ctx, y: y, g: g, log: true)] }),
        OpDefinition("BatchNormalization", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in
                         if ctx.int("training_mode", 0) != 0 { throw ctx.unsupported("training_mode=1 (batch statistics)") }
                         return [try batchNorm(ctx, ins)]
                     },
                     gradient: .init(inputs: [0, 1, 2]) { ctx, ins, _, g, need throws(ExecutionError) in try batchNormBackward(ctx, ins, g: g, need: need) }),
    ]

    // MARK: Softmax / LogSoftmax

    /// (outer, n, inner) of the softmax axis, following the opset's semantics: before opset 13
    /// the input is coerced to 2-D at `axis`; from 13 the softmax runs along `axis` alone.
    static func softmaxGeometry(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> (Int, Int, Int) {
        let legacy = ctx.opset < 13
        let axis = try ctx.axis(ctx.int("axis", legacy ? 1 : -1), rank: x.rank)
        let outer = x.shape[..<axis].reduce(1, *)
        if legacy { return (outer, x.shape[axis...].reduce(1, *), 1) }
        return (outer, x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
    }

    static func softmax(_ ctx: OpContext, _ x: NDArray, log: Bool) throws(ExecutionError) -> NDArray {
        let (outer, n, inner) = try softmaxGeometry(ctx, x)
        var y = x.floats
        softmaxInPlace(&y, outer: outer, n: n, inner: inner, log: log)
        return NDArray(shape: x.shape, floats: y)
    }

    /// (Log-)softmax over the middle axis of `y` viewed as [outer, n, inner], max-subtracted.
    static func softmaxInPlace(_ y: inout [Float], outer: Int, n: Int, inner: Int, log: Bool) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var mx = -Float.infinity
                for j in 0..<n { mx = max(mx, y[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<n {
                    let e = Foundation.exp(y[base + j * inner] - mx)
                    sum += e
                    if !log { y[base + j * inner] = e }
                }
                if log {
                    let l = Foundation.log(sum) + mx
                    for j in 0..<n { y[base + j * inner] -= l }
                } else {
                    for j in 0..<n { y[base + j * inner] /= sum }
                }
            }
        }
    }

    static func softmaxBackward(_ ctx: OpContext, y: NDArray, g: NDArray, log: Bool) throws(ExecutionError) -> NDArray {
        let (outer, n, inner) = try softmaxGeometry(ctx, y)
        var dx = [Float](repeating: 0, count: y.count)
        let yv = y.floats, gv = g.floats
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var s: Float = 0
                if log {
                    for j in 0..<n { s += gv[base + j * inner] }
                    for j in 0..<n { let k = base + j * inner; dx[k] = gv[k] - Foundation.exp(yv[k]) * s }
                } else {
                    for j in 0..<n { s += gv[base + j * inner] * yv[base + j * inner] }
                    for j in 0..<n { let k = base + j * inner; dx[k] = yv[k] * (gv[k] - s) }
                }
            }
        }
        return NDArray(shape: y.shape, floats: dx)
    }

    // MARK: BatchNormalization (inference statistics)

    static func batchNormParts(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> ([Float], [Float], Int, Int, Int) {
        let x = try ctx.floatInput(inputs, 0)
        guard x.rank >= 2 else { throw ctx.mismatch("input must have a channel axis") }
        let scale = try ctx.floatInput(inputs, 1), bias = try ctx.floatInput(inputs, 2)
        let mean = try ctx.floatInput(inputs, 3), variance = try ctx.floatInput(inputs, 4)
        let c = x.shape[1]
        guard [scale, bias, mean, variance].allSatisfy({ $0.count == c }) else {
            throw ctx.mismatch("scale, B, mean and var must have \(c) values")
        }
        let eps = ctx.float("epsilon", 1e-5)
        let inv = (0..<c).map { 1 / (variance.floats[$0] + eps).squareRoot() }
        // y = a·x + b per channel
        let a = (0..<c).map { scale.floats[$0] * inv[$0] }
        let b = (0..<c).map { bias.floats[$0] - mean.floats[$0] * a[$0] }
        return (a, b, x.shape[0], c, x.shape[2...].reduce(1, *))
    }

    static func batchNorm(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let x = try ctx.floatInput(inputs, 0)
        let (a, b, n, c, s) = try batchNormParts(ctx, inputs)
        var y = x.floats
        for i in 0..<n { for j in 0..<c {
            let base = (i * c + j) * s
            for k in 0..<s { y[base + k] = a[j] * y[base + k] + b[j] }
        } }
        return NDArray(shape: x.shape, floats: y)
    }

    static func batchNormBackward(_ ctx: OpContext, _ inputs: [NDArray?], g: NDArray,
                                  need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let x = try ctx.floatInput(inputs, 0)
        let (a, _, n, c, s) = try batchNormParts(ctx, inputs)
        let mean = try ctx.floatInput(inputs, 3), variance = try ctx.floatInput(inputs, 4)
        let eps = ctx.float("epsilon", 1e-5)
        var dx = [Float](repeating: 0, count: x.count)
        var dscale = [Float](repeating: 0, count: c), dbias = [Float](repeating: 0, count: c)
        let gv = g.floats, xv = x.floats
        for i in 0..<n { for j in 0..<c {
            let base = (i * c + j) * s
            let inv = 1 / (variance.floats[j] + eps).squareRoot()
            for k in 0..<s {
                dx[base + k] = gv[base + k] * a[j]
                dscale[j] += gv[base + k] * (xv[base + k] - mean.floats[j]) * inv
                dbias[j] += gv[base + k]
            }
        } }
        var out: [NDArray?] = [nil, nil, nil, nil, nil]
        if need[0] { out[0] = NDArray(shape: x.shape, floats: dx) }
        if need.count > 1, need[1] { out[1] = NDArray(shape: [c], floats: dscale) }
        if need.count > 2, need[2] { out[2] = NDArray(shape: [c], floats: dbias) }
        return out
    }
}
