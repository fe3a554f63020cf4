import AICompressCore

/// Which opset the quantized form needs, and raising the model to it. The model keeps its own
/// opset whenever that can express its tensors (per-tensor DequantizeLinear exists from opset
/// 10); otherwise every node is converted (`ONNXVersionConverter`), never just relabelled.
extension ONNXQDQ {
    /// The opset DequantizeLinear needs for these parameters and output dtype, and why.
    static func requirement(_ q: QuantizationParameters, dtype: DType, tensor: String) -> (opset: Int64, needs: String) {
        if q.blockSize > 0 || q.storage.bits == 4 {
            return (21, "\(q.blockSize > 0 ? "blocked" : "4-bit") DequantizeLinear of '\(tensor)'")
        }
        if dtype == .f16 || dtype == .bf16 { return (19, "DequantizeLinear to \(dtype.rawValue) of '\(tensor)'") }
        if q.axis != nil { return (13, "per-channel DequantizeLinear of '\(tensor)'") }
        return (10, "DequantizeLinear of '\(tensor)'")
    }

    /// The newest opset the model's tensors need: their DequantizeLinear nodes, and bfloat16
    /// weights (no ai.onnx operator takes bfloat16 before opset 13).
    static func requiredOpset(of model: Model) -> (opset: Int64, needs: String) {
        var best: (opset: Int64, needs: String) = (0, "")
        let read = Set(model.graph?.nodes.flatMap(\.inputs) ?? [])
        for t in model.tensors {
            var r: (opset: Int64, needs: String) = (0, "")
            if case .quantized(let q) = t.encoding {
                r = requirement(q, dtype: t.dtype, tensor: t.name)
            } else if t.dtype == .bf16 && read.contains(t.name) {
                r = (13, "the bfloat16 weight '\(t.name)'")
            }
            if r.opset > best.opset { best = r }
        }
        return best
    }

    /// `model` at the opset its tensors need. The IR version rises with the opset (when one is
    /// recorded); leaving IR 3, whose initializers had to be listed as graph inputs, they stop
    /// being listed, since from IR 4 a listed initializer is only a default an input overrides.
    static func raiseOpset(_ model: Model) throws -> Model {
        guard let graph = model.graph,
              let current = graph.opsets.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" })?.version else { return model }
        let (target, needs) = requiredOpset(of: model)
        guard target > current else { return model }
        var out = try ONNXVersionConverter.convert(model, from: current, to: target, needs: needs)
        let key = ONNXReader.fieldKeys.irVersion
        if let stored = model.metadata[key].flatMap({ Int64($0) }), stored < ONNXWriter.irVersion(forOpset: target) {
            out.metadata[key] = String(ONNXWriter.irVersion(forOpset: target))
            if stored < 4, var g = out.graph {
                let initializers = Set(out.tensors.map(\.name))
                g.inputs.removeAll { initializers.contains($0.name) }
                out.graph = g
            }
        }
        return out
    }

    /// IR 3 requires every initializer to be a graph input too: lists the ones that are not.
    static func listAsInputs(_ tensors: [Tensor], in graph: inout Graph) {
        let listed = Set(graph.inputs.map(\.name))
        for t in tensors where !listed.contains(t.name) {
            graph.inputs.append(ValueInfo(name: t.name, elemType: ONNXTypes.code(of: t.dtype),
                                          shape: t.shape.dims.map { .fixed(Int64($0)) }))
        }
    }
}
