import AICompressCore

/// Cast and DequantizeLinear: values to another element kind. Cast passes float gradients
/// through unchanged.
enum Conversion {
    static let definitions: [OpDefinition] = [
        OpDefinition("Cast", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try cast(ctx, try ctx.input(ins, 0))] },
                     gradient: .init(inputs: [0]) { _, ins, _, g, _ throws(ExecutionError) in [(ins.first ?? nil)?.isFloat == true ? g : nil] }),
        OpDefinition("DequantizeLinear", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try dequantizeLinear(ctx, ins)] }),
    ]

    static func cast(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        let to = ctx.int("to", 0)
        switch to {
        case 1, 10, 11, 16: // float, float16, double, bfloat16: computed in float32
            return NDArray(shape: x.shape, floats: x.asFloats)
        case 9:
            return NDArray(shape: x.shape, ints: x.isFloat ? x.floats.map { $0 != 0 ? 1 : 0 } : x.ints.map { $0 != 0 ? 1 : 0 },
                           kind: .bool)
        case 2, 3, 4, 5, 6, 7, 12, 13:
            return NDArray(shape: x.shape, ints: x.asInts)
        default:
            throw ctx.unsupported("cast to ONNX type \(ONNXElementType.name(Int32(to)))")
        }
    }

    static func dequantizeLinear(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let x = try ctx.input(inputs, 0), scale = try ctx.floatInput(inputs, 1)
        let zp = inputs.count > 2 ? inputs[2] : nil
        if let z = zp, z.count != scale.count { throw ctx.mismatch("zero point has \(z.count) values, scale \(scale.count)") }
        let xv = x.asFloats, sv = scale.floats, zv = zp?.asFloats
        var y = [Float](repeating: 0, count: x.count)
        if scale.count == 1 {
            let z = zv?.first ?? 0
            for i in 0..<y.count { y[i] = (xv[i] - z) * sv[0] }
            return NDArray(shape: x.shape, floats: y)
        }
        let axis = try ctx.axis(ctx.int("axis", 1), rank: x.rank)
        let block = ctx.int("block_size", 0)
        let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        if block > 0 {
            guard scale.shape.count == x.rank else { throw ctx.mismatch("blocked scale must have the input's rank") }
            let nb = scale.shape[axis]
            var expected = x.shape
            expected[axis] = (n + block - 1) / block
            guard scale.shape == expected else { throw ctx.mismatch("scale \(scale.shape) does not block \(x.shape) by \(block)") }
            for o in 0..<outer { for j in 0..<n { for i in 0..<inner {
                let k = (o * n + j) * inner + i, s = (o * nb + j / block) * inner + i
                y[k] = (xv[k] - (zv?[s] ?? 0)) * sv[s]
            } } }
        } else {
            guard scale.count == n else { throw ctx.mismatch("scale has \(scale.count) values for axis of size \(n)") }
            for o in 0..<outer { for j in 0..<n { for i in 0..<inner {
                let k = (o * n + j) * inner + i
                y[k] = (xv[k] - (zv?[j] ?? 0)) * sv[j]
            } } }
        }
        return NDArray(shape: x.shape, floats: y)
    }
}
