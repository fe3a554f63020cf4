import AICompressCore
import AICompressTraining

/// Knowledge distillation (Hinton et al.): a student learns the teacher's softened outputs,
/// α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1−α)·cross-entropy(labels), optionally
/// plus β·MSE between intermediate values, through a learned linear projection where the widths
/// differ.
public enum Distillation {
    public struct Config: Sendable {
        public var temperature: Double = 4
        /// Weight of the distillation term; 1 − alpha goes to the labels.
        public var alpha: Double = 0.9
        /// Intermediate values to match: (student value, teacher value).
        public var featurePairs: [(student: String, teacher: String)] = []
        /// Weight of the feature term.
        public var featureWeight: Double = 1
        public init() {}
    }

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
            let env = try teacher.network.forward([teacher.inputName: try teacher.batch(data, rows: rows)])
            for n in names {
                guard let v = env[n], v.isFloat else {
                    throw ExecutionError.badInput("the teacher has no float value '\(n)'")
                }
                out[n]!.values += v.floats
                out[n]!.perRow = v.count / rows.count
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
    public static func addingProjections(_ student: Model, pairs: [(student: String, teacher: String)],
                                         studentWidths: [Int], teacherWidths: [Int], seed: UInt64) throws -> Model {
        guard var g = student.graph else { throw ExecutionError.noGraph }
        var m = student
        var rng = SplitMix64(seed: seed ^ 0x9E37)
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

    // MARK: Objective

    /// The combined loss for a student batch. `teacherLogits` holds `classes` values per row;
    /// `labels` (class indices) may be nil, in which case only the teacher is followed.
    public static func objective(logitsValue: String, classes: Int, teacherLogits: [Float], labels: [Int]?,
                                 features: [(projected: String, teacher: [Float], width: Int)] = [],
                                 config: Config) -> Objective {
        let alpha = labels == nil ? 1 : config.alpha
        let t = config.temperature
        return { env, rows in
            guard let z = env[logitsValue] else { throw ExecutionError.missingValue(logitsValue) }
            let b = rows.count
            let student = z.reshaped([b, classes])
            var teacher = [Float]()
            teacher.reserveCapacity(b * classes)
            for r in rows { teacher.append(contentsOf: teacherLogits[(r * classes)..<((r + 1) * classes)]) }
            var loss = 0.0
            var grad = [Float](repeating: 0, count: z.count)
            if alpha > 0 {
                let (l, g) = Loss.distillationKL(student: student, teacher: teacher, temperature: t)
                loss += alpha * l
                for i in grad.indices { grad[i] += Float(alpha) * g.floats[i] }
            }
            if alpha < 1, let labels {
                let (l, g) = Loss.crossEntropy(logits: student, labels: rows.map { labels[$0] })
                loss += (1 - alpha) * l
                for i in grad.indices { grad[i] += Float(1 - alpha) * g.floats[i] }
            }
            var seeds = [logitsValue: NDArray(shape: z.shape, floats: grad)]
            for f in features {
                guard let p = env[f.projected] else { throw ExecutionError.missingValue(f.projected) }
                var target = [Float]()
                target.reserveCapacity(b * f.width)
                for r in rows { target.append(contentsOf: f.teacher[(r * f.width)..<((r + 1) * f.width)]) }
                let (l, g) = Loss.mse(p, target: target)
                loss += config.featureWeight * l
                seeds[f.projected] = NDArray(shape: g.shape, floats: g.floats.map { $0 * Float(config.featureWeight) })
            }
            return (loss, seeds)
        }
    }
}
