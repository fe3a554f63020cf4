import AICompressCore

/// Quantized tensors in ONNX as QDQ: the integers, the scale and the zero point as initializers
/// feeding a DequantizeLinear node whose output carries the original name, so every consumer is
/// unchanged and onnxruntime runs the model (fusing the pattern into integer kernels where it
/// can). `lower` writes that form; `fold` recognises it on import, so a quantized model makes
/// the round trip ONNX -> .ckpt -> ONNX unchanged.
enum ONNXQDQ {
    static let quantizedSuffix = "_quantized", scaleSuffix = "_scale", zeroPointSuffix = "_zero_point"

    /// The opset DequantizeLinear needs for these parameters and output dtype.
    static func requiredOpset(_ q: QuantizationParameters, dtype: DType) -> Int64 {
        requirement(q, dtype: dtype, tensor: "").opset
    }

    /// Replaces every quantized tensor by its QDQ form.
    static func lower(_ model: Model) throws -> Model {
        var model = model
        if let t = model.tensors.first(where: { $0.ggmlType != nil }) {
            throw ONNXError.unrepresentable("tensor '\(t.name)' is stored in \(t.encoding) blocks, which ONNX has no operator for; dequantize the model first (aicompress dequantize), or write GGUF or .ckpt")
        }
        // ONNX has no bitmask encoding: sparse tensors are written dense (or as
        // sparse_initializer, which the writer chooses).
        for t in model.tensors { if case .sparse = t.encoding { try model.replace(try t.densified()) } }
        // Nor for a sparse + quantized one: its integers are expanded to the quantized form.
        for t in model.tensors { if case .sparseQuantized = t.encoding { try model.replace(try t.expandedQuantized()) } }
        model = try raiseOpset(model)
        let quantized = model.tensors.filter { !$0.isDense }
        guard !quantized.isEmpty else { return model }
        var names = ONNXNames(taken: Set(model.tensors.map(\.name)))
        var graph = model.graph ?? Graph(name: "aicompress")
        for n in graph.nodes { names.taken.formUnion(n.outputs) }
        func fresh(_ base: String) -> String { names.fresh(base) }
        var out = Model()
        var nodes: [Node] = []
        var opset: Int64 = 0
        for t in model.tensors {
            guard case .quantized(let q) = t.encoding, let layout = t.quantizedLayout else {
                try out.append(t)
                continue
            }
            guard t.dtype != .f64 else {
                throw ONNXError.unrepresentable("tensor '\(t.name)' is quantized from f64; DequantizeLinear cannot produce f64")
            }
            opset = max(opset, requiredOpset(q, dtype: t.dtype))
            let (qData, scales, zps) = parts(t, layout)
            let qName = fresh(t.name + quantizedSuffix), sName = fresh(t.name + scaleSuffix)
            try out.append(try Tensor(name: qName, dtype: q.storage.dtype, shape: t.shape, data: qData))
            // DequantizeLinear's output type is the scale's type.
            let scaleShape = try Shape(layout.scaleShape)
            let scaleTensor: Tensor
            switch t.dtype {
            case .f16:
                scaleTensor = try Tensor(name: sName, dtype: .f16, shape: scaleShape, data: TensorData(values: scales.map { $0.float16Bits.littleEndian }))
            case .bf16:
                scaleTensor = try Tensor(name: sName, dtype: .bf16, shape: scaleShape, data: TensorData(values: scales.map { $0.bfloat16Bits.littleEndian }))
            default:
                scaleTensor = try Tensor(name: sName, shape: scaleShape, floats: scales)
            }
            try out.append(scaleTensor)
            var inputs = [qName, sName]
            if let zps {
                let zName = fresh(t.name + zeroPointSuffix)
                try out.append(try Tensor(name: zName, dtype: q.storage.dtype, shape: scaleShape, data: zps))
                inputs.append(zName)
            }
            var attributes: [Attribute] = []
            if let axis = q.axis { attributes.append(Attribute(name: "axis", value: .int(Int64(axis)))) }
            if q.blockSize > 0 { attributes.append(Attribute(name: "block_size", value: .int(Int64(q.blockSize)))) }
            nodes.append(Node(name: fresh(t.name + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: inputs,
                              outputs: [t.name], attributes: attributes))
        }
        let lowered = Set(quantized.map(\.name))
        graph.inputs.removeAll { lowered.contains($0.name) }
        graph.nodes = nodes + graph.nodes
        if let i = graph.opsets.firstIndex(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) {
            graph.opsets[i].version = max(graph.opsets[i].version, opset)
        } else {
            graph.opsets.insert(OpsetImport(domain: "", version: max(opset, 17)), at: 0)
            // A new ai.onnx import is a raised opset: the IR version goes with it.
            let key = ONNXReader.fieldKeys.irVersion
            if let ir = model.metadata[key].flatMap({ Int64($0) }), ir < ONNXWriter.irVersion(forOpset: max(opset, 17)) {
                model.metadata[key] = String(ONNXWriter.irVersion(forOpset: max(opset, 17)))
            }
        }
        out.metadata = model.metadata
        if let ir = model.metadata[ONNXReader.fieldKeys.irVersion].flatMap({ Int64($0) }), ir < 4 {
            listAsInputs(out.tensors, in: &graph)
        }
        out.graph = graph
        return out
    }

    /// The integers (zero-copy), the scales as f32, and the zero points of a quantized tensor.
    static func parts(_ t: Tensor, _ layout: QuantizedLayout) -> (TensorData, [Float], TensorData?) {
        let q = TensorData(buffer: t.data.buffer, offset: t.data.offset, count: layout.integerBytes)!
        let scales = t.data.withUnsafeBytes { raw in (0..<layout.scaleCount).map { layout.scale(raw, $0) } }
        let zpBytes = (layout.scaleCount * layout.parameters.storage.bits + 7) / 8
        let zps = layout.parameters.hasZeroPoint
            ? TensorData(buffer: t.data.buffer, offset: t.data.offset + layout.zeroPointsOffset, count: zpBytes)! : nil
        return (q, scales, zps)
    }

    /// Folds DequantizeLinear(initializer integers, initializer scale[, initializer zero point])
    /// back into one quantized tensor named as the node's output, when nothing else uses those
    /// initializers and the parameters fit the checkpoint encoding.
    static func fold(_ model: Model) -> Model {
        guard var graph = model.graph else { return model }
        var uses: [String: Int] = [:]
        for n in graph.nodes { for i in n.inputs { uses[i, default: 0] += 1 } }
        let outputs = Set(graph.outputs.map(\.name))
        var replacements: [String: Tensor] = [:]  // integer initializer name -> folded tensor
        var removed = Set<String>()
        var removedNodes = Set<Int>()
        let opset = graph.opsets.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version ?? 1
        for (index, n) in graph.nodes.enumerated() where n.opType == "DequantizeLinear" && n.domain.isEmpty {
            guard n.inputs.count >= 2, n.inputs.count <= 3, n.outputs.count == 1, !outputs.contains(n.outputs[0]),
                  model.tensor(named: n.outputs[0]) == nil,
                  let q = model.tensor(named: n.inputs[0]), let s = model.tensor(named: n.inputs[1]),
                  q.isDense, s.isDense, n.inputs.allSatisfy({ uses[$0] == 1 && !removed.contains($0) }),
                  let storage = QuantizedStorage(rawValue: q.dtype.rawValue),
                  [.f32, .f16, .bf16].contains(s.dtype) else { continue }
            let zp = n.inputs.count == 3 && !n.inputs[2].isEmpty ? model.tensor(named: n.inputs[2]) : nil
            if n.inputs.count == 3 && !n.inputs[2].isEmpty && (zp == nil || zp!.dtype != q.dtype || !zp!.isDense) { continue }
            var axisAttr: Int64? = nil
            var block: Int64 = 0
            for a in n.attributes {
                if a.name == "axis", case .int(let v) = a.value { axisAttr = v }
                if a.name == "block_size", case .int(let v) = a.value { block = v }
            }
            let rank = q.shape.rank
            // Per tensor when the scale has one element and no block; else per axis / blocked.
            var axis: Int? = nil
            if s.elementCount != 1 || block > 0 {
                guard opset >= 13 else { continue }
                var a = Int(axisAttr ?? 1)
                if a < 0 { a += rank }
                guard a >= 0, a < rank else { continue }
                axis = a
            }
            guard block >= 0, block <= Int64(Int32.max) else { continue }
            let params = QuantizationParameters(storage: storage, axis: axis, blockSize: Int(block), hasZeroPoint: zp != nil)
            guard let layout = try? QuantizedLayout(shape: q.shape, parameters: params), layout.scaleCount == s.elementCount,
                  (try? Shape(layout.scaleShape))?.dims == s.shape.dims || (axis == nil && s.elementCount == 1),
                  zp == nil || zp!.elementCount == s.elementCount,
                  let folded = assemble(name: n.outputs[0], dtype: s.dtype, q: q, scale: s, zp: zp, layout: layout) else { continue }
            replacements[q.name] = folded
            removed.formUnion(n.inputs.filter { !$0.isEmpty })
            removedNodes.insert(index)
        }
        guard !replacements.isEmpty else { return model }
        var out = Model()
        for t in model.tensors {
            if let f = replacements[t.name] { try? out.append(f) } else if !removed.contains(t.name) { try? out.append(t) }
        }
        graph.nodes = graph.nodes.enumerated().filter { !removedNodes.contains($0.offset) }.map(\.element)
        graph.inputs.removeAll { removed.contains($0.name) }
        out.graph = graph
        out.metadata = model.metadata
        return out
    }

    /// One quantized payload from separate integer, scale and zero-point tensors.
    static func assemble(name: String, dtype: DType, q: Tensor, scale: Tensor, zp: Tensor?, layout: QuantizedLayout) -> Tensor? {
        guard q.data.count == layout.integerBytes else { return nil }
        let scales = scale.floatValues()
        let buffer = ByteBuffer.build(count: layout.payloadBytes) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            q.data.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: layout.integerBytes) }
            for (i, s) in scales.enumerated() {
                out.storeBytes(of: s.bitPattern.littleEndian, toByteOffset: layout.scalesOffset + 4 * i, as: UInt32.self)
            }
            if let zp {
                zp.data.withUnsafeBytes { (out.baseAddress! + layout.zeroPointsOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
        }
        return try? Tensor(name: name, dtype: dtype, shape: layout.shape, encoding: .quantized(layout.parameters), data: TensorData(buffer))
    }
}
