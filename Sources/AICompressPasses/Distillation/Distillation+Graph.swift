import AICompressCore
import AICompressTraining

/// The graph building blocks of distillation: students, teacher targets, feature projections.
extension Distillation {
    // MARK: Students

    /// An MLP student: the teacher's input (flattened if it is an image), ReLU hidden layers
    /// of the given widths, and `outputs` logits, initialized He-uniform (weights) and zero
    /// (biases) from `seed`. Layers are Gemm with transB, as torch.onnx exports nn.Linear.
    public static func mlpStudent(inputName: String, rowShape: [Int], hidden: [Int], outputs: Int,
                                  seed: UInt64, outputName: String = "logits") throws -> Model {
        var rng = SplitMix64(seed: seed)
        var tensors = [Tensor]()
        var nodes = [Node]()
        var width = max(rowShape.reduce(1, *), 1)
        var current = inputName
        if rowShape.count > 1 {
            nodes.append(Node(name: "flatten", opType: "Flatten", inputs: [current], outputs: ["flat"],
                              attributes: [Attribute(name: "axis", value: .int(1))]))
            current = "flat"
        }
        let widths = hidden + [outputs]
        for (i, w) in widths.enumerated() {
            let bound = Float((6.0 / Double(width)).squareRoot())
            let weights = (0..<(w * width)).map { _ in Float(rng.unit() * 2 - 1) * bound }
            tensors.append(try Tensor(name: "fc\(i + 1).weight", shape: Shape([w, width]), floats: weights))
            tensors.append(try Tensor(name: "fc\(i + 1).bias", shape: Shape([w]), floats: [Float](repeating: 0, count: w)))
            let last = i == widths.count - 1
            let out = last ? outputName : "fc\(i + 1)"
            nodes.append(Node(name: "fc\(i + 1)", opType: "Gemm", inputs: [current, "fc\(i + 1).weight", "fc\(i + 1).bias"],
                              outputs: [out], attributes: [Attribute(name: "transB", value: .int(1))]))
            current = out
            if !last {
                nodes.append(Node(name: "relu\(i + 1)", opType: "Relu", inputs: [current], outputs: ["relu\(i + 1)"]))
                current = "relu\(i + 1)"
            }
            width = w
        }
        let inputDims: [Dimension] = [.symbolic("N")] + rowShape.map { .fixed(Int64($0)) }
        let g = Graph(name: "student", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: inputName, elemType: 1, shape: rowShape.isEmpty ? [.symbolic("N")] : inputDims)],
                      outputs: [ValueInfo(name: outputName, elemType: 1, shape: [.symbolic("N"), .fixed(Int64(outputs))])],
                      nodes: nodes)
        return try Model(tensors: tensors, graph: g)
    }

    // MARK: Teacher targets

    /// Values `names` of the teacher for every row of `data`, row-major, computed in batches.
    public static func teacherValues(_ teacher: ModelTask, data: Dataset, names: [String],
                                     batchSize: Int = 256) throws -> [String: (values: [Float], perRow: Int)] {
        var out: [String: (values: [Float], perRow: Int)] = [:]
        for n in names { out[n] = ([], 0) }
        var start = 0
        while start < data.rows {
            let rows = Array(start..<min(start + batchSize, data.rows))
            let env = try teacher.network.forward(try teacher.feeds(data, rows: rows))
            for n in names {
                guard let v = env[n], v.isFloat else {
                    throw ExecutionError.badInput("the teacher has no float value '\(n)'")
                }
                out[n, default: ([], 0)].values += v.floats
                out[n, default: ([], 0)].perRow = v.count / rows.count
            }
            start += batchSize
        }
        return out
    }

    // MARK: Feature projections

    /// Name of the projection added for feature pair `i`.
    public static func projectionName(_ i: Int) -> String { "distill.projection.\(i)" }

    /// The student model with, for each feature pair, Flatten → MatMul by a learned [ds, dt]
    /// projection (identity-initialized where the widths agree, small random otherwise) whose
    /// output the feature loss compares with the teacher's value. `strip` removes them again.
    public static func addingProjections(_ student: Model, pairs: [FeaturePair],
                                         studentWidths: [Int], teacherWidths: [Int], seed: UInt64) throws -> Model {
        guard var g = student.graph else { throw ExecutionError.noGraph }
        var m = student
        var rng = SplitMix64(seed: seed ^ Self.projectionSeedSalt)
        for (i, pair) in pairs.enumerated() {
            let ds = studentWidths[i], dt = teacherWidths[i]
            var w = [Float](repeating: 0, count: ds * dt)
            if ds == dt {
                for k in 0..<ds { w[k * dt + k] = 1 }
            } else {
                let bound = Float(1 / Double(ds).squareRoot())
                for k in w.indices { w[k] = Float(rng.unit() * 2 - 1) * bound }
            }
            let name = projectionName(i)
            try m.append(try Tensor(name: name, shape: Shape([ds, dt]), floats: w))
            g.nodes.append(Node(name: name + ".flatten", opType: "Flatten", inputs: [pair.student], outputs: [name + ".in"],
                                attributes: [Attribute(name: "axis", value: .int(1))]))
            g.nodes.append(Node(name: name, opType: "MatMul", inputs: [name + ".in", name], outputs: [name + ".out"]))
        }
        m.graph = g
        return m
    }

    /// `model` without the projections `addingProjections` put in.
    public static func strippingProjections(_ model: Model) throws -> Model {
        guard var g = model.graph else { return model }
        g.nodes.removeAll { $0.name.hasPrefix("distill.projection.") }
        return try Model(tensors: model.tensors.filter { !$0.name.hasPrefix("distill.projection.") },
                         metadata: model.metadata, graph: g)
    }
}
