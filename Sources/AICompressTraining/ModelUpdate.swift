import AICompressCore

extension Network {
    /// The tensor `name` holding `values`, in the dtype and encoding of `original`: float16,
    /// bfloat16 and float64 tensors are converted back (round to nearest even), and a tensor
    /// stored sparse is stored sparse again.
    static func tensor(_ values: [Float], like original: Tensor) throws(ModelError) -> Tensor {
        let dense: Tensor
        switch original.dtype {
        case .f16:
            dense = try Tensor(name: original.name, dtype: .f16, shape: original.shape,
                               data: TensorData(values: values.map { Float16($0).bitPattern }))
        case .bf16:
            dense = try Tensor(name: original.name, dtype: .bf16, shape: original.shape,
                               data: TensorData(values: values.map(\.bfloat16Bits)))
        case .f64:
            dense = try Tensor(name: original.name, dtype: .f64, shape: original.shape,
                               data: TensorData(values: values.map { Double($0) }))
        default:
            dense = try Tensor(name: original.name, shape: original.shape, floats: values)
        }
        guard case .sparse = original.encoding else { return dense }
        let (payload, nnz) = dense.data.withUnsafeBytes {
            SparseLayout.encode(dense: $0, dtype: dense.dtype, count: dense.elementCount)
        }
        return try Tensor(name: dense.name, dtype: dense.dtype, shape: dense.shape, encoding: .sparse(nonZeros: nnz),
                          data: TensorData(payload))
    }

    /// `model` with its trained parameters replaced by this network's values.
    public func updating(_ model: Model) throws(ModelError) -> Model {
        var m = model
        for name in parameterNames {
            guard let original = model.tensor(named: name), let values = parameters[name] else { continue }
            try m.replace(try Network.tensor(values.floats, like: original))
        }
        return m
    }
}

extension Model {
    /// Names of the standardization tensors `standardizingInput` adds.
    public static let inputMeanName = "aicompress.input_mean"
    public static let inputStdName = "aicompress.input_std"

    /// This model with `(x − mean) / std` applied to graph input `input` inside the graph (Sub
    /// and Div nodes in front of its consumers), so the standardization travels with the model
    /// and the exported ONNX applies it too. `mean` and `std` have the shape of one row.
    public func standardizingInput(_ input: String, mean: [Float], std: [Float], rowShape: [Int]) throws -> Model {
        guard var g = graph else { throw ExecutionError.noGraph }
        if tensor(named: Model.inputMeanName) != nil {
            throw ExecutionError.badInput("the model already standardizes its input (\(Model.inputMeanName) exists)")
        }
        let shape = try Shape(rowShape.isEmpty ? [mean.count] : rowShape)
        var m = self
        try m.append(try Tensor(name: Model.inputMeanName, shape: shape, floats: mean))
        try m.append(try Tensor(name: Model.inputStdName, shape: shape, floats: std))
        let centered = "aicompress.input_centered", standardized = "aicompress.input_standardized"
        for i in g.nodes.indices {
            g.nodes[i].inputs = g.nodes[i].inputs.map { $0 == input ? standardized : $0 }
        }
        g.nodes.insert(contentsOf: [
            Node(name: "aicompress.standardize.sub", opType: "Sub", inputs: [input, Model.inputMeanName], outputs: [centered]),
            Node(name: "aicompress.standardize.div", opType: "Div", inputs: [centered, Model.inputStdName], outputs: [standardized]),
        ], at: 0)
        g.outputs = g.outputs.map { o in o.name == input ? ValueInfo(name: standardized, type: o.type) : o }
        m.graph = g
        return m
    }
}
