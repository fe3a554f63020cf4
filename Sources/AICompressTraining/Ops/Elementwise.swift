import Foundation

/// Unary and binary elementwise ops: forward and gradient.
enum Elementwise {
    static let unary: Set<String> = ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf", "Gelu", "Neg", "Exp", "Log",
                                     "Sqrt", "Abs", "Clip", "Identity", "Dropout", "Softplus", "Elu"]
    static let binary: Set<String> = ["Add", "Sub", "Mul", "Div", "Pow"]

    static func map(_ x: NDArray, _ f: (Float) -> Float) -> NDArray {
        NDArray(shape: x.shape, floats: x.floats.map(f))
    }

    static func clipBounds(_ ctx: OpContext, _ inputs: [NDArray?]) -> (Float, Float) {
        if ctx.opset < 11 {
            return (ctx.float("min", -.greatestFiniteMagnitude), ctx.float("max", .greatestFiniteMagnitude))
        }
        let lo = inputs.count > 1 ? inputs[1]?.asFloats.first : nil
        let hi = inputs.count > 2 ? inputs[2]?.asFloats.first : nil
        return (lo ?? -.greatestFiniteMagnitude, hi ?? .greatestFiniteMagnitude)
    }

    static func forwardUnary(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> [NDArray] {
        let x = try ctx.input(inputs, 0)
        switch ctx.op {
        case "Identity":
            return [x]
        case "Dropout": // inference: identity; the optional mask output is all true
            let mask = NDArray(shape: x.shape, ints: [Int64](repeating: 1, count: x.count), kind: .bool)
            return ctx.node.outputs.count > 1 ? [x, mask] : [x]
        default: break
        }
        guard x.isFloat else { throw ctx.mismatch("input must be a float tensor") }
        switch ctx.op {
        case "Relu": return [map(x) { max($0, 0) }]
        case "LeakyRelu":
            let a = ctx.float("alpha", 0.01)
            return [map(x) { $0 >= 0 ? $0 : a * $0 }]
        case "Elu":
            let a = ctx.float("alpha", 1)
            return [map(x) { $0 >= 0 ? $0 : a * (Foundation.exp($0) - 1) }]
        case "Sigmoid": return [map(x) { sigmoid($0) }]
        case "Tanh": return [map(x) { Foundation.tanh($0) }]
        case "Erf": return [map(x) { Foundation.erf($0) }]
        case "Softplus": return [map(x) { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) }]
        case "Gelu":
            if ctx.string("approximate", "none") == "tanh" {
                return [map(x) { v in
                    let u = 0.7978845608028654 * (v + 0.044715 * v * v * v)
                    return 0.5 * v * (1 + Float(Foundation.tanh(Double(u))))
                }]
            }
            return [map(x) { v in Float(0.5 * Double(v) * (1 + Foundation.erf(Double(v) / 2.0.squareRoot()))) }]
        case "Neg": return [map(x) { -$0 }]
        case "Exp": return [map(x) { Foundation.exp($0) }]
        case "Log": return [map(x) { Foundation.log($0) }]
        case "Sqrt": return [map(x) { $0.squareRoot() }]
        case "Abs": return [map(x) { abs($0) }]
        case "Clip":
            let (lo, hi) = clipBounds(ctx, inputs)
            return [map(x) { min(max($0, lo), hi) }]
        default: throw ExecutionError.unsupportedOp(node: ctx.name, op: ctx.op)
        }
    }

    @inline(__always) static func sigmoid(_ v: Float) -> Float {
        v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
    }

    /// Gradient with respect to the input, from input `x`, output `y` and output gradient `g`.
    static func backwardUnary(_ ctx: OpContext, x: NDArray, y: NDArray, g: NDArray) -> NDArray {
        var dx = [Float](repeating: 0, count: x.count)
        let xv = x.floats, yv = y.floats, gv = g.floats
        switch ctx.op {
        case "Identity", "Dropout": return g
        case "Relu": for i in 0..<dx.count { dx[i] = xv[i] > 0 ? gv[i] : 0 }
        case "LeakyRelu":
            let a = ctx.float("alpha", 0.01)
            for i in 0..<dx.count { dx[i] = xv[i] >= 0 ? gv[i] : a * gv[i] }
        case "Elu":
            let a = ctx.float("alpha", 1)
            for i in 0..<dx.count { dx[i] = xv[i] >= 0 ? gv[i] : gv[i] * (yv[i] + a) }
        case "Sigmoid": for i in 0..<dx.count { dx[i] = gv[i] * yv[i] * (1 - yv[i]) }
        case "Tanh": for i in 0..<dx.count { dx[i] = gv[i] * (1 - yv[i] * yv[i]) }
        case "Erf":
            for i in 0..<dx.count { dx[i] = gv[i] * 1.1283791670955126 * Foundation.exp(-xv[i] * xv[i]) }
        case "Softplus": for i in 0..<dx.count { dx[i] = gv[i] * sigmoid(xv[i]) }
        case "Gelu":
            if ctx.string("approximate", "none") == "tanh" {
                for i in 0..<dx.count {
                    let v = Double(xv[i])
                    let u = 0.7978845608028654 * (v + 0.044715 * v * v * v)
                    let t = Foundation.tanh(u)
                    let du = 0.7978845608028654 * (1 + 3 * 0.044715 * v * v)
                    dx[i] = gv[i] * Float(0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du)
                }
            } else {
                for i in 0..<dx.count {
                    let v = Double(xv[i])
                    let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
                    let pdf = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
                    dx[i] = gv[i] * Float(cdf + v * pdf)
                }
            }
        case "Neg": for i in 0..<dx.count { dx[i] = -gv[i] }
        case "Exp": for i in 0..<dx.count { dx[i] = gv[i] * yv[i] }
        case "Log": for i in 0..<dx.count { dx[i] = gv[i] / xv[i] }
        case "Sqrt": for i in 0..<dx.count { dx[i] = gv[i] * 0.5 / yv[i] }
        case "Abs": for i in 0..<dx.count { dx[i] = xv[i] > 0 ? gv[i] : (xv[i] < 0 ? -gv[i] : 0) }
        case "Clip":
            // bounds are read again from the node; inputs 1 and 2 are constants here
            for i in 0..<dx.count { dx[i] = yv[i] == xv[i] ? gv[i] : 0 }
        default: break
        }
        return NDArray(shape: x.shape, floats: dx)
    }

    static func forwardBinary(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let a = try ctx.input(inputs, 0), b = try ctx.input(inputs, 1)
        if !a.isFloat && !b.isFloat { // integer arithmetic (shape computations)
            switch ctx.op {
            case "Add": return try Broadcast.applyInt(a, b, ctx: ctx, &+)
            case "Sub": return try Broadcast.applyInt(a, b, ctx: ctx, &-)
            case "Mul": return try Broadcast.applyInt(a, b, ctx: ctx, &*)
            case "Div":
                return try Broadcast.applyInt(a, b, ctx: ctx) { x, y in y == 0 ? 0 : x.dividedReportingOverflow(by: y).partialValue }
            default: break
            }
        }
        switch ctx.op {
        case "Add": return try Broadcast.apply(a, b, ctx: ctx, +)
        case "Sub": return try Broadcast.apply(a, b, ctx: ctx, -)
        case "Mul": return try Broadcast.apply(a, b, ctx: ctx, *)
        case "Div": return try Broadcast.apply(a, b, ctx: ctx, /)
        case "Pow": return try Broadcast.apply(a, b, ctx: ctx) { Foundation.pow($0, $1) }
        default: throw ExecutionError.unsupportedOp(node: ctx.name, op: ctx.op)
        }
    }

    /// Gradients of a binary op with respect to both inputs (summed back over broadcasting).
    static func backwardBinary(_ ctx: OpContext, a: NDArray, b: NDArray, y: NDArray, g: NDArray,
                               need: (Bool, Bool)) throws(ExecutionError) -> (NDArray?, NDArray?) {
        let out = y.shape
        func back(_ x: NDArray, _ grad: NDArray) -> NDArray {
            NDArray(shape: x.shape, floats: Broadcast.reduce(grad.floats, out: out, to: x.shape))
        }
        switch ctx.op {
        case "Add":
            return (need.0 ? back(a, g) : nil, need.1 ? back(b, g) : nil)
        case "Sub":
            return (need.0 ? back(a, g) : nil, need.1 ? back(b, Elementwise.map(g) { -$0 }) : nil)
        case "Mul":
            let ga = need.0 ? back(a, try Broadcast.apply(g, b, ctx: ctx, *)) : nil
            let gb = need.1 ? back(b, try Broadcast.apply(g, a, ctx: ctx, *)) : nil
            return (ga, gb)
        case "Div":
            let ga = need.0 ? back(a, try Broadcast.apply(g, b, ctx: ctx, /)) : nil
            var gb: NDArray? = nil
            if need.1 { // d(a/b)/db = -y/b
                let yb = try Broadcast.apply(y, b, ctx: ctx, /)
                gb = back(b, try Broadcast.apply(g, yb, ctx: ctx) { -$0 * $1 })
            }
            return (ga, gb)
        case "Pow":
            var ga: NDArray? = nil, gb: NDArray? = nil
            if need.0 { // b · a^(b-1)
                let d = try Broadcast.apply(a, b, ctx: ctx) { $1 * Foundation.pow($0, $1 - 1) }
                ga = back(a, try Broadcast.apply(g, d, ctx: ctx, *))
            }
            if need.1 { // y · ln a
                let la = Elementwise.map(a) { Foundation.log($0) }
                let d = try Broadcast.apply(y, la, ctx: ctx, *)
                gb = back(b, try Broadcast.apply(g, d, ctx: ctx, *))
            }
            return (ga, gb)
        default:
            throw ExecutionError.unsupportedOp(node: ctx.name, op: ctx.op)
        }
    }
}
