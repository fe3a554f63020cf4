import Foundation

/// Resize (opset 10 on) in nearest and linear modes with the coordinate transformations
/// onnxruntime implements (half_pixel, pytorch_half_pixel, align_corners, asymmetric,
/// tf_half_pixel_for_nn) and the four nearest rounding modes. Both modes are separable, so the
/// op resamples one axis at a time through a list of (source, weight) taps per output index,
/// and the gradient applies the transposed taps in reverse order. Cubic, antialias, roi
/// cropping and the axes input are refused.
enum Resize {
    static let definitions: [OpDefinition] = [
        OpDefinition("Resize",
                     forward: { ctx, ins throws(ExecutionError) in
                         var x = try ctx.floatInput(ins, 0)
                         for (axis, taps) in try plan(ctx, ins, x.shape) { x = apply(x, axis: axis, taps: taps) }
                         return [x]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0)
                         var shapes = [x.shape]
                         let steps = try plan(ctx, ins, x.shape)
                         for (axis, taps) in steps { var s = shapes[shapes.count - 1]; s[axis] = taps.count; shapes.append(s) }
                         var d = g
                         for (i, (axis, taps)) in steps.enumerated().reversed() { d = applyTransposed(d, axis: axis, taps: taps, inSize: shapes[i][axis]) }
                         return [d]
                     }),
    ]

    /// One output index's sources along an axis.
    typealias Taps = [(Int, Float)]

    /// The axes that change, each with its taps per output index.
    static func plan(_ ctx: OpContext, _ inputs: [NDArray?], _ shape: [Int]) throws(ExecutionError) -> [(Int, [Taps])] {
        let mode = ctx.string("mode", "nearest")
        guard mode == "nearest" || mode == "linear" else { throw ctx.unsupported("mode \(mode) (nearest and linear are supported)") }
        if ctx.int("antialias", 0) != 0 { throw ctx.unsupported("antialias") }
        if ctx.ints("axes") != nil { throw ctx.unsupported("the axes attribute") }
        let transform = ctx.opset < 11 ? "asymmetric" : ctx.string("coordinate_transformation_mode", "half_pixel")
        if transform == "tf_crop_and_resize" { throw ctx.unsupported("coordinate_transformation_mode tf_crop_and_resize") }
        let nearestMode = ctx.string("nearest_mode", ctx.opset < 11 ? "round_prefer_ceil" : "round_prefer_floor")
        let scalesIn = ctx.opset < 11 ? (inputs.count > 1 ? inputs[1] : nil) : (inputs.count > 2 ? inputs[2] : nil)
        let sizesIn = ctx.opset < 11 ? nil : (inputs.count > 3 ? inputs[3] : nil)
        var scales = [Float](repeating: 1, count: shape.count), out = shape
        if let sz = sizesIn, sz.count > 0 {
            guard sz.count == shape.count else { throw ctx.mismatch("sizes \(sz.asInts) do not fit rank \(shape.count)") }
            for (i, v) in sz.asInts.enumerated() {
                guard v >= 0, v <= Int64(OpContext.maxElements) else { throw ctx.mismatch("sizes \(sz.asInts)") }
                out[i] = Int(v)
                scales[i] = shape[i] == 0 ? 1 : Float(v) / Float(shape[i])
            }
        } else if let sc = scalesIn, sc.count > 0 {
            guard sc.count == shape.count, sc.isFloat, sc.floats.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw ctx.mismatch("scales \(sc.asFloats) do not fit rank \(shape.count)")
            }
            scales = sc.floats
            for i in shape.indices {
                // In Double and checked before the conversion: a finite scale like 1e30 would trap in Int().
                let n = (Double(shape[i]) * Double(scales[i])).rounded(.down)
                guard n <= Double(OpContext.maxElements) else { throw ctx.mismatch("scales \(sc.asFloats) make axis \(i) too long") }
                out[i] = Int(n)
            }
        } else {
            throw ctx.mismatch("neither scales nor sizes is given")
        }
        try ctx.checkSize(out)
        var steps = [(Int, [Taps])]()
        for axis in shape.indices where out[axis] != shape[axis] || scales[axis] != 1 {
            let n = shape[axis], m = out[axis], s = scales[axis]
            guard n > 0 else { throw ctx.mismatch("resizing an empty axis") }
            var taps = [Taps]()
            for o in 0..<m {
                let x: Float
                switch transform {
                case "half_pixel": x = (Float(o) + 0.5) / s - 0.5
                case "pytorch_half_pixel": x = m > 1 ? (Float(o) + 0.5) / s - 0.5 : 0
                case "align_corners": x = m > 1 ? Float(o) * Float(n - 1) / Float(m - 1) : 0
                case "asymmetric": x = Float(o) / s
                case "tf_half_pixel_for_nn": x = (Float(o) + 0.5) / s
                default: throw ctx.unsupported("coordinate_transformation_mode \(transform)")
                }
                if mode == "nearest" {
                    var i: Float
                    switch nearestMode {
                    case "round_prefer_floor": i = x - x.rounded(.down) == 0.5 ? x.rounded(.down) : x.rounded()
                    case "round_prefer_ceil": i = x.rounded(.toNearestOrAwayFromZero)
                        if x - x.rounded(.down) == 0.5 { i = x.rounded(.up) }
                    case "floor": i = x.rounded(.down)
                    case "ceil": i = x.rounded(.up)
                    default: throw ctx.unsupported("nearest_mode \(nearestMode)")
                    }
                    taps.append([(Int(min(max(i, 0), Float(n - 1))), Float(1))])  // clamped before Int(): x can be huge
                } else {
                    let c = min(max(x, 0), Float(n - 1))
                    let i0 = Int(c.rounded(.down)), i1 = min(i0 + 1, n - 1), w = c - Float(i0)
                    taps.append(i1 == i0 ? [(i0, Float(1))] : [(i0, 1 - w), (i1, w)])
                }
            }
            steps.append((axis, taps))
        }
        return steps
    }

    static func apply(_ x: NDArray, axis: Int, taps: [Taps]) -> NDArray {
        let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        var shape = x.shape
        shape[axis] = taps.count
        var y = [Float](repeating: 0, count: outer * taps.count * inner)
        // Through pointers: an upsampled axis of a million outputs made element-wise array access
        // (bounds checks, accessors in a debug build) a minute's work. Same float operations, same order.
        x.floats.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                guard let xs = xp.baseAddress, let ys = yp.baseAddress else { return }
                for o in 0..<outer { for (j, t) in taps.enumerated() {
                    let dst = ys + (o * taps.count + j) * inner
                    for (src, w) in t { let s = xs + (o * n + src) * inner; for i in 0..<inner { dst[i] += w * s[i] } }
                } }
            }
        }
        return NDArray(shape: shape, floats: y)
    }

    static func applyTransposed(_ g: NDArray, axis: Int, taps: [Taps], inSize n: Int) -> NDArray {
        let outer = g.shape[..<axis].reduce(1, *), inner = g.shape[(axis + 1)...].reduce(1, *)
        var shape = g.shape
        shape[axis] = n
        var d = [Float](repeating: 0, count: outer * n * inner)
        g.floats.withUnsafeBufferPointer { gp in
            d.withUnsafeMutableBufferPointer { dp in
                guard let gs = gp.baseAddress, let ds = dp.baseAddress else { return }
                for o in 0..<outer { for (j, t) in taps.enumerated() {
                    let src = gs + (o * taps.count + j) * inner
                    for (k, w) in t { let dst = ds + (o * n + k) * inner; for i in 0..<inner { dst[i] += w * src[i] } }
                } }
            }
        }
        return NDArray(shape: shape, floats: d)
    }
}
