import AICompressCore

/// Which graph value a model is trained (or distilled) on, and whether it is logits.
extension ModelTask {
    /// Where `traceLogits` ends: the value, whether a Softmax/LogSoftmax was stepped over, and
    /// whether the value is known to hold probabilities.
    struct LogitsTrace {
        var value: String?
        var preSoftmax: Bool
        var probabilities: Bool
    }

    /// Follows the score output back to the value a loss should be seeded at: through Identity
    /// and ZipMap (skl2onnx's default classifier export, whose sequence of maps our executor
    /// keeps as its probability tensor and which passes no gradient), then over a final
    /// Softmax/LogSoftmax to its input. Where no pre-softmax value exists, a value that a
    /// probability-producing node gives is marked as probabilities.
    static func traceLogits(from output: String?, in g: Graph) -> LogitsTrace {
        var producer: [String: (node: Node, slot: Int)] = [:]
        for n in g.nodes { for (i, o) in n.outputs.enumerated() where !o.isEmpty { producer[o] = (n, i) } }
        var v = output
        var seen = Set<String>()
        while let name = v, seen.insert(name).inserted, let (n, _) = producer[name] {
            switch OpDefinition.key(domain: n.domain, name: n.opType) {
            case "Identity", "ai.onnx.ml.ZipMap":
                v = n.inputs.first
                continue
            case "Softmax", "LogSoftmax":
                return LogitsTrace(value: n.inputs.first, preSoftmax: true, probabilities: false)
            default:
                break
            }
            break
        }
        return LogitsTrace(value: v, preSoftmax: false, probabilities: v.map { isProbability($0, producer) } ?? false)
    }

    /// Whether `value` is made by a node that gives probabilities: LinearClassifier's scores
    /// under a SOFTMAX or LOGISTIC post-transform, or an L1 Normalizer of such values (skl2onnx's
    /// LogisticRegression export).
    static func isProbability(_ value: String, _ producer: [String: (node: Node, slot: Int)]) -> Bool {
        guard let (n, slot) = producer[value] else { return false }
        func string(_ key: String) -> String? {
            if case .string(let b)? = n.attribute(key) { return String(decoding: b, as: UTF8.self) }
            return nil
        }
        switch OpDefinition.key(domain: n.domain, name: n.opType) {
        case "ai.onnx.ml.LinearClassifier":
            return slot == 1 && ["SOFTMAX", "LOGISTIC"].contains(string("post_transform") ?? "NONE")
        case "ai.onnx.ml.Normalizer":
            return string("norm") == "L1" && n.inputs.first.map { isProbability($0, producer) } == true
        default:
            return false
        }
    }

    /// Rows of the data run to tell from values whether `logitsValue` holds probabilities.
    static let probabilityProbeRows = 256

    /// Whether `logitsValue` holds probabilities: the graph says so (`logitsValueIsProbabilities`),
    /// or on the first rows of `data` every row lies in [0, 1] and sums to 1 (a softmax the
    /// executor cannot see as one, spelled Exp → row sum → Div, say).
    public func logitsAreProbabilities(on data: Dataset) throws(ExecutionError) -> Bool {
        if logitsValueIsProbabilities { return true }
        guard let value = logitsValue, data.rows > 0 else { return false }
        let rows = Array(0..<min(data.rows, Self.probabilityProbeRows))
        let env = try network.forward(try feeds(data, rows: rows))
        guard let v = env[value], v.isFloat, v.count % rows.count == 0 else { return false }
        return ProbabilityLogits.areProbabilities(v.floats, perRow: v.count / rows.count)
    }

    /// Refuses a task whose loss at `logitsValue` could not reach any trainable tensor.
    /// - Throws: `GradientError.noPath`, naming the output and the node that passes no gradient.
    public func checkGradientPath() throws(GradientError) {
        guard let value = logitsValue, network.parameterCount > 0 else { return }
        if let block = network.gradientBlock(for: value) {
            throw .noPath(output: scoreOutput ?? value, value: value, block)
        }
    }
}
