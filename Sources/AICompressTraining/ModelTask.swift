import AICompressCore

/// How a model maps rows of data to predictions: its single data input, and which outputs give
/// class labels, class scores, the logits to train on, or regression values.
public struct ModelTask: Sendable {
    public var network: Network
    public let inputName: String
    /// Shape of one row's input (the input's dimensions after the batch axis).
    public let rowShape: [Int]
    /// An integer output giving class labels (as skl2onnx classifiers have), if any.
    public let labelOutput: String?
    /// The float output giving per-class scores or probabilities, or regression values.
    public let scoreOutput: String?
    /// The value to train on: the input of a final Softmax/LogSoftmax (through Identity and
    /// skl2onnx's ZipMap), else the score output.
    public let logitsValue: String?
    /// Whether `logitsValue` is pre-softmax (cross-entropy from logits applies).
    public let scoresAreProbabilities: Bool
    /// Whether `logitsValue` itself holds probabilities, with no pre-softmax value in the graph
    /// (skl2onnx's LinearClassifier + Normalizer): losses take their log (`ProbabilityLogits`).
    public let logitsValueIsProbabilities: Bool
    /// Class label of each score column, when the graph records them (ArrayFeatureExtractor).
    public let classLabels: [Double]?
    /// Class names when the label output is a string tensor (skl2onnx classifiers trained on
    /// text labels): the label output's values, and so `Predictions.values`, are indices into them.
    public let classNames: [String]?

    /// Why rows of a feature table cannot feed the model (several inputs, or dimensions after
    /// the batch axis that are not fixed), or nil when they can: such a model takes named arrays
    /// (`Dataset.named`).
    public let tableRefusal: ExecutionError?

    public var featureCount: Int { rowShape.reduce(1, *) }

    public init(network: Network) throws(ExecutionError) {
        self.network = network
        let g = network.graph
        guard let input = network.feedInputs.first else {
            throw ExecutionError.badInput("the model has no data inputs")
        }
        inputName = input.name
        (rowShape, tableRefusal) = Self.tableShape(network.feedInputs)
        let outs = g.outputs
        let strings = try network.stringLabels()
        let labelOut = outs.first {
            [ElementCode.int32, ElementCode.int64].contains($0.elemType) || $0.elemType == ElementCode.string && strings[$0.name] != nil
        }?.name
        labelOutput = labelOut
        classNames = labelOut.flatMap { strings[$0] }
        let floatOut = outs.first { $0.elemType == ElementCode.float || $0.elemType == ElementCode.undefined && $0.name != labelOut }?.name
        scoreOutput = floatOut
        let trace = Self.traceLogits(from: floatOut, in: g)
        logitsValue = trace.value
        scoresAreProbabilities = trace.preSoftmax
        logitsValueIsProbabilities = trace.probabilities
        // class labels: an ArrayFeatureExtractor picking from a constant by the ArgMax of the scores
        var labels: [Double]? = nil
        for n in g.nodes where n.opType == "ArrayFeatureExtractor" {
            if let c = network.constants[n.inputs.first ?? ""] { labels = c.asFloats.map { Double($0) }; if !c.isFloat { labels = c.ints.map { Double($0) } } }
        }
        classLabels = labels
    }

    /// The graph feeds for `rows` of `data`: its named arrays, checked and converted to the
    /// inputs' element kinds (`GraphFeeds`), or the feature table as the one input.
    public func feeds(_ data: Dataset, rows: [Int]) throws(ExecutionError) -> [String: NDArray] {
        guard let named = data.namedInputs else { return [inputName: try batch(data, rows: rows)] }
        return try GraphFeeds(named.rows(rows).arrays, network: network, source: named.source).arrays
    }

    /// The input array for `rows` of `data`.
    public func batch(_ data: Dataset, rows: [Int]) throws(ExecutionError) -> NDArray {
        if let refusal = tableRefusal { throw refusal }
        guard data.featureCount == featureCount else {
            throw ExecutionError.badInput("the data has \(data.featureCount) features, input '\(inputName)' takes \(featureCount) per row (shape \(rowShape))")
        }
        var f = [Float]()
        f.reserveCapacity(rows.count * featureCount)
        data.features.withUnsafeBufferPointer { p in
            for r in rows { f.append(contentsOf: p[(r * featureCount)..<((r + 1) * featureCount)]) }
        }
        return NDArray(shape: [rows.count] + (rowShape.isEmpty ? [] : rowShape), floats: f)
    }

    /// Predictions for all rows, computed in batches.
    public struct Predictions: Sendable {
        /// Predicted class label or regression value per row.
        public var values: [Double]
        /// Per-row scores (row-major, `columns` each), when the model gives them.
        public var scores: [Float]
        public var columns: Int
        public var isClassification: Bool
        /// Raw graph outputs by name, concatenated over batches along the first axis.
        public var outputs: [String: NDArray]
    }

    public func predict(_ data: Dataset, batchSize: Int = 256, keepOutputs: Bool = false) throws(ExecutionError) -> Predictions {
        var values = [Double](), scores = [Float]()
        var columns = 0
        var isClass = labelOutput != nil
        var outputs: [String: NDArray] = [:]
        var start = 0
        while start < data.rows || (start == 0 && data.rows == 0) {
            let rows = Array(start..<min(start + batchSize, data.rows))
            let env = try network.predict(try feeds(data, rows: rows))
            if let s = scoreOutput, let out = env[s],
               out.rank >= 1 && out.shape[0] == rows.count && (rows.count == 0 || out.count % rows.count == 0) || !keepOutputs {
                guard out.rank >= 1, out.shape[0] == rows.count, rows.count == 0 || out.count % rows.count == 0 else {
                    throw ExecutionError.badInput("output '\(s)' has shape \(out.shape) for \(rows.count) rows of input")
                }
                columns = out.rank >= 2 ? out.count / max(rows.count, 1) : 1
                scores += out.asFloats
                if labelOutput == nil && columns > 1 { isClass = true }
            }
            if let l = labelOutput, let out = env[l] {
                // one label per row to evaluate with; raw outputs (predict) may hold several
                if out.count == rows.count {
                    values += out.isFloat ? out.floats.map { Double($0) } : out.ints.map { Double($0) }
                } else if !keepOutputs {
                    throw ExecutionError.badInput("output '\(l)' has \(out.count) labels for \(rows.count) rows of input")
                }
            } else if isClass && columns >= 1 {
                for r in 0..<rows.count {
                    var best = 0
                    for c in 1..<columns where scores[(start + r) * columns + c] > scores[(start + r) * columns + best] { best = c }
                    values.append(classLabels.flatMap { best < $0.count ? $0[best] : nil } ?? Double(best))
                }
            } else if columns >= 1 && scores.count >= (start + rows.count) * columns {
                for r in 0..<rows.count { values.append(Double(scores[(start + r) * columns])) }
            } else if !keepOutputs {
                throw ExecutionError.badInput("the model gives no value per row to predict with")
            }
            if keepOutputs {
                for (k, v) in env {
                    // appended in place: no copy of what earlier batches gave
                    if outputs[k] == nil || v.rank == 0 { outputs[k] = outputs[k] ?? v; continue }  // a scalar is not per row
                    if v.isFloat { outputs[k]!.floats.append(contentsOf: v.floats) } else { outputs[k]!.ints.append(contentsOf: v.ints) }
                    outputs[k]!.shape[0] += v.shape.first ?? 0
                }
            }
            if data.rows == 0 { break }
            start += batchSize
        }
        return Predictions(values: values, scores: scores, columns: columns, isClassification: isClass, outputs: outputs)
    }

    /// Class index of each target value for training: via the recorded class labels, or the
    /// value itself when it is an integer in 0..<classes.
    public func classIndices(_ targets: [Double], classes: Int, file: String) throws(ExecutionError) -> [Int] {
        if let names = classNames {
            throw ExecutionError.badInput("\(file): the label column holds numbers; the model's classes are text (\(names.prefix(4).joined(separator: ", "))\(names.count > 4 ? ", …" : ""))")
        }
        var map: [Double: Int] = [:]
        if let cl = classLabels { for (i, c) in cl.enumerated() { map[c] = i } }
        var out = [Int]()
        out.reserveCapacity(targets.count)
        for (r, t) in targets.enumerated() {
            if let i = map[t] { out.append(i); continue }
            guard classLabels == nil, t == t.rounded(), t >= 0, t < Double(classes) else {
                throw ExecutionError.badInput("\(file): row \(r + 1): label \(t) is not one of the model's \(classes) classes")
            }
            out.append(Int(t))
        }
        return out
    }
}

/// The ONNX element type codes (TensorProto.DataType) that classify a graph's outputs.
private enum ElementCode {
    /// No type recorded.
    static let undefined: Int32 = 0
    static let float: Int32 = 1
    static let int32: Int32 = 6
    static let int64: Int32 = 7
    static let string: Int32 = 8
}
