import AICompressCore

/// A linear layer of a graph that calibration can compress: a `Gemm` or `MatMul` whose weight is
/// a float matrix initializer. Calibration methods see its weight as `outputs × inputs` (rows the
/// outputs); `inputMajor` says the tensor is stored the other way (`MatMul`'s [K, N], `Gemm`
/// without `transB`).
public struct CalibratedLayer: Sendable, Equatable {
    /// The node (its name, or its first output when unnamed).
    public let node: String
    /// The weight tensor.
    public let weight: String
    /// The graph value that multiplies the weight (the layer's input activations).
    public let input: String
    /// Stored [inputs, outputs].
    public let inputMajor: Bool
    /// Fan-in and fan-out.
    public let inputs: Int, outputs: Int
    /// The bias added to the product, when it is a float initializer of `outputs` elements that
    /// only this node reads, added as it is (Gemm's C with alpha = beta = 1): the tensor that
    /// SparseGPT refits with the weights (`DenseTargets`). nil otherwise (MatMul, or no such C).
    public let bias: String?

    /// The linear layers of `model`'s graph, in graph order, whose weight `selects` accepts.
    /// Nodes of other kinds, and Gemm with `transA`, are not calibrated.
    public static func find(in model: Model, selects: (Tensor) -> Bool) -> [CalibratedLayer] {
        guard let graph = model.graph else { return [] }
        let byName = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var layers: [CalibratedLayer] = []
        var seen = Set<String>()
        var readers: [String: Int] = [:]
        for n in graph.nodes { for i in Set(n.inputs) { readers[i, default: 0] += 1 } }
        for o in graph.outputs { readers[o.name, default: 0] += 1 }
        for n in graph.nodes where n.domain.isEmpty || n.domain == "ai.onnx" {
            guard n.opType == "Gemm" || n.opType == "MatMul", n.inputs.count >= 2 else { continue }
            guard let w = byName[n.inputs[1]], w.shape.rank == 2, w.dtype.isFloatingPoint, selects(w) else { continue }
            var inputMajor = true
            if n.opType == "Gemm" {
                if case .int(let a) = n.attribute("transA"), a != 0 { continue }
                if case .int(let b) = n.attribute("transB"), b != 0 { inputMajor = false }
            }
            // A weight shared by two nodes would be compressed for one input only: leave it.
            guard !seen.contains(w.name) else { layers.removeAll { $0.weight == w.name }; continue }
            seen.insert(w.name)
            let d = w.shape.dims, outputs = inputMajor ? d[1] : d[0]
            var bias: String?
            if n.opType == "Gemm", n.inputs.count >= 3, let c = byName[n.inputs[2]], c.dtype == .f32, c.shape.elementCount == outputs,
               c.shape.dims.last == outputs, readers[c.name] == 1, Self.unit(n.attribute("alpha")), Self.unit(n.attribute("beta")) {
                bias = c.name
            }
            layers.append(CalibratedLayer(node: n.name.isEmpty ? (n.outputs.first ?? n.opType) : n.name, weight: w.name,
                                          input: n.inputs[0], inputMajor: inputMajor,
                                          inputs: inputMajor ? d[0] : d[1], outputs: outputs, bias: bias))
        }
        return layers
    }

    /// Whether a Gemm scale attribute is absent or 1.
    static func unit(_ a: AttributeValue?) -> Bool {
        guard let a else { return true }
        if case .float(let v) = a { return v == 1 }
        return false
    }

    /// `values` (the tensor's elements in stored order) as `outputs × inputs`.
    public func rowsByOutput(_ values: [Float]) -> [Float] {
        guard inputMajor else { return values }
        var r = [Float](repeating: 0, count: values.count)
        for i in 0..<inputs { for o in 0..<outputs { r[o * inputs + i] = values[i * outputs + o] } }
        return r
    }

    /// `rows` (`outputs × inputs`) back in stored order.
    public func storedOrder(_ rows: [Float]) -> [Float] {
        guard inputMajor else { return rows }
        var r = [Float](repeating: 0, count: rows.count)
        for i in 0..<inputs { for o in 0..<outputs { r[i * outputs + o] = rows[o * inputs + i] } }
        return r
    }
}
