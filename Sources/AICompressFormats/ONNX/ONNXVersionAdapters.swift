import AICompressCore

/// The rewrites of `ONNXVersionConverter`: one per schema change that altered what an existing
/// node means or how it is written (an attribute that became an input, a removed attribute, a
/// changed default). Schema changes not listed here only widened types or added inputs and
/// attributes whose defaults keep the old behaviour.
extension ONNXVersionConverter {
    /// Carries `n` across the schema change at opset `step`; returns the nodes to put before and
    /// after it.
    mutating func adapt(_ n: inout Node, step: Int64) throws -> (before: [Node], after: [Node]) {
        // Opset 6 dropped `consumed_inputs` (a memory-reuse hint) from every operator.
        if step >= 5 { n.remove("consumed_inputs") }
        switch (n.opType, step) {
        case ("Add", 7), ("Sub", 7), ("Mul", 7), ("Div", 7), ("Pow", 7), ("And", 7), ("Or", 7), ("Xor", 7),
             ("Equal", 7), ("Greater", 7), ("Less", 7):
            return (try legacyBroadcast(&n), [])
        case ("Gemm", 7):
            // Gemm-7 broadcasts C unidirectionally, which covers every C Gemm-6 accepted.
            n.remove("broadcast")
        case ("BatchNormalization", 7):
            n.remove("is_test")
        case ("BatchNormalization", 9):
            if let s = n.int("spatial"), s == 0 {
                throw refusal(n, "BatchNormalization with spatial=0 (per-element statistics) has no form from opset 9")
            }
            n.remove("spatial")
        case ("BatchNormalization", 14):
            if n.outputs.count > 1 { throw refusal(n, "training-mode BatchNormalization (running statistics outputs) is not converted") }
        case ("Dropout", _):
            try dropoutToIdentity(&n)
        case ("Clip", 11):
            let lo = n.float("min"), hi = n.float("max")
            n.remove("min", "max")
            if let lo { n.setInput(1, try constant(n.outputs[0] + "_min", float: lo)) }
            if let hi { n.setInput(2, try constant(n.outputs[0] + "_max", float: hi)) }
        case ("Concat", 4):
            // Concat-1's axis defaulted to 1; from opset 4 it is required.
            if n.int("axis") == nil { n.set("axis", .int(1)) }
        case ("Reshape", 5):
            guard let shape = n.ints("shape") else { throw refusal(n, "Reshape-1 without a `shape` attribute") }
            n.remove("shape")
            n.setInput(1, try constant(n.outputs[0] + "_shape", ints: shape))
        case ("Cast", 6):
            if case .string = n.attribute("to") { throw refusal(n, "Cast-1's `to` is a type name, not converted") }
        case ("Pad", 2):
            if let p = n.ints("paddings") {
                n.remove("paddings")
                n.set("pads", .ints(p))
            }
        case ("Pad", 11):
            guard let pads = n.ints("pads") else { throw refusal(n, "Pad without `pads`") }
            let value = n.float("value")
            n.remove("pads", "value")
            n.setInput(1, try constant(n.outputs[0] + "_pads", ints: pads))
            if let value, value != 0 { n.setInput(2, try constant(n.outputs[0] + "_value", float: value)) }
        case ("Slice", 10):
            guard let starts = n.ints("starts"), let ends = n.ints("ends") else { throw refusal(n, "Slice without starts/ends") }
            let axes = n.ints("axes")
            n.remove("starts", "ends", "axes")
            n.setInput(1, try constant(n.outputs[0] + "_starts", ints: starts))
            n.setInput(2, try constant(n.outputs[0] + "_ends", ints: ends))
            if let axes { n.setInput(3, try constant(n.outputs[0] + "_axes", ints: axes)) }
        case ("TopK", 10):
            guard let k = n.int("k") else { throw refusal(n, "TopK without `k`") }
            n.remove("k")
            n.setInput(1, try constant(n.outputs[0] + "_k", ints: [k]))
        case ("Split", 2):
            if n.inputs.count > 1 && !n.inputs[1].isEmpty { throw refusal(n, "Split-1 with `split` as an input") }
        case ("Split", 13):
            if let split = n.ints("split") {
                n.remove("split")
                n.setInput(1, try constant(n.outputs[0] + "_split", ints: split))
            }
        case ("Split", 18):
            // Split-18 needs the number of parts when no sizes are given (equal parts, as before).
            if n.inputs.count < 2 || n.inputs[1].isEmpty { n.set("num_outputs", .int(Int64(n.outputs.count))) }
        case ("Squeeze", 13), ("Unsqueeze", 13), ("ReduceSum", 13), ("ReduceMean", 18), ("ReduceMax", 18),
             ("ReduceMin", 18), ("ReduceProd", 18), ("ReduceL1", 18), ("ReduceL2", 18), ("ReduceLogSum", 18),
             ("ReduceLogSumExp", 18), ("ReduceSumSquare", 18):
            if let axes = n.ints("axes") {
                n.remove("axes")
                n.setInput(1, try constant(n.outputs[0] + "_axes", ints: axes))
            }
        case ("Softmax", 13), ("LogSoftmax", 13), ("Hardmax", 13):
            return try legacySoftmax(&n)
        case ("Resize", 11):
            throw refusal(n, "Resize-10's coordinate mapping is not the default from opset 11; not converted")
        case ("Resize", 13):
            if case .string(let mode) = n.attribute("coordinate_transformation_mode"), mode == Array("tf_half_pixel_for_nn".utf8) {
                throw refusal(n, "Resize's tf_half_pixel_for_nn mode was removed in opset 13")
            }
        case ("Tile", 6):
            throw refusal(n, "Tile-1 (tiles and axis inputs) is not converted")
        default:
            break
        }
        return ([], [])
    }

    /// Opset 7 replaced `broadcast`/`axis` (B aligned with A from `axis`) by numpy broadcasting
    /// (aligned from the right). B gets trailing unit dimensions where the two differ.
    mutating func legacyBroadcast(_ n: inout Node) throws -> [Node] {
        let broadcast = n.int("broadcast") ?? 0
        let axis = n.int("axis")
        n.remove("broadcast", "axis")
        guard broadcast != 0, let axis, n.inputs.count == 2 else { return [] }
        guard let ra = ranks[n.inputs[0]], let rb = ranks[n.inputs[1]] else {
            throw refusal(n, "legacy broadcast along axis \(axis) needs the ranks of both inputs, which the graph does not record")
        }
        let start = axis < 0 ? Int(axis) + ra : Int(axis)
        let trailing = ra - start - rb
        guard trailing >= 0 else { throw refusal(n, "legacy broadcast axis \(axis) does not fit ranks \(ra) and \(rb)") }
        guard trailing > 0 else { return [] }
        let (u, out) = try unsqueeze(n.inputs[1], axes: (rb..<(rb + trailing)).map { Int64($0) })
        n.inputs[1] = out
        return [u]
    }

    /// Dropout at inference is the identity (every ratio, every opset); its optional mask output
    /// has changed type across opsets, so a graph that reads it is refused.
    mutating func dropoutToIdentity(_ n: inout Node) throws {
        if n.outputs.count > 1, !n.outputs[1].isEmpty, uses[n.outputs[1], default: 0] > 0 {
            throw refusal(n, "its mask output is used")
        }
        n = Node(name: n.name, opType: "Identity", inputs: [n.inputs[0]], outputs: [n.outputs[0]])
    }

    /// Before opset 13 Softmax, LogSoftmax and Hardmax flattened the input to 2-D at `axis`
    /// (default 1) and normalised over everything from it; from 13 they work along one axis
    /// (default -1). The same when `axis` is the last one; otherwise Flatten, normalise along
    /// axis 1, Reshape back.
    mutating func legacySoftmax(_ n: inout Node) throws -> (before: [Node], after: [Node]) {
        let axis = n.int("axis") ?? 1
        let x = n.inputs[0], y = n.outputs[0]
        if let rank = ranks[x] ?? ranks[y] {
            let a = axis < 0 ? axis + Int64(rank) : axis
            if a == Int64(rank) - 1 {
                n.set("axis", .int(a))
                return ([], [])
            }
        }
        let shape = fresh(y + "_input_shape"), flat = fresh(y + "_flat"), normalised = fresh(y + "_2d")
        let before = [Node(name: shape, opType: "Shape", inputs: [x], outputs: [shape]),
                      Node(name: flat, opType: "Flatten", inputs: [x], outputs: [flat],
                           attributes: [Attribute(name: "axis", value: .int(axis))])]
        n.inputs[0] = flat
        n.outputs[0] = normalised
        n.set("axis", .int(1))
        let after = [Node(name: fresh(y + "_reshape"), opType: "Reshape", inputs: [normalised, shape], outputs: [y])]
        return (before, after)
    }
}
