/// The usual objectives for a model task: cross-entropy from logits against class labels, or
/// mean squared error against regression targets.
extension ModelTask {
    /// Columns of the score output (classes, or 1 for regression), found by running one row.
    public func scoreColumns() throws(ExecutionError) -> Int {
        guard let s = logitsValue else { throw ExecutionError.badInput("the model has no float output to train on") }
        let env = try network.forward(try probeFeeds())
        guard let v = env[s] else { throw ExecutionError.missingValue(s) }
        return v.rank >= 2 ? v.count : 1
    }

    /// Whether the task is classification (several score columns or an integer label output).
    public func isClassifier() throws(ExecutionError) -> Bool {
        if labelOutput != nil { return true }
        return try scoreColumns() > 1
    }

    /// Cross-entropy (classification) or MSE (regression) against `data`'s targets.
    public func supervisedObjective(_ data: Dataset, file: String) throws(ExecutionError) -> Objective {
        guard let targets = data.targets else { throw ExecutionError.badInput("\(file): the data has no label column") }
        guard let logits = logitsValue else { throw ExecutionError.badInput("the model has no float output to train on") }
        let columns = try scoreColumns()
        if try isClassifier() {
            let classes = try classIndices(targets, classes: columns, file: file)
            // probabilities without a pre-softmax value: cross-entropy of log p, chained back to p
            let probabilities = try logitsAreProbabilities(on: data)
            return { env, rows in
                guard let z = env[logits] else { throw ExecutionError.missingValue(logits) }
                let p = z.asFloats
                let input = probabilities ? NDArray(shape: [rows.count, columns], floats: ProbabilityLogits.logits(p))
                                          : z.reshaped([rows.count, columns])
                let (loss, g) = Loss.crossEntropy(logits: input, labels: rows.map { classes[$0] })
                let grad = probabilities ? ProbabilityLogits.gradient(g.floats, probabilities: p) : g.floats
                return (loss, [logits: NDArray(shape: z.shape, floats: grad)])
            }
        }
        return { env, rows in
            guard let y = env[logits] else { throw ExecutionError.missingValue(logits) }
            let (loss, g) = Loss.mse(y, target: rows.map { Float(targets[$0]) })
            return (loss, [logits: g])
        }
    }
}
