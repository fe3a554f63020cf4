import AICompressCore

/// How a model's inputs are fed: one feature table, or named arrays.
extension ModelTask {
    /// The row shape of a model fed from a feature table, or the reason it cannot be.
    static func tableShape(_ inputs: [ValueInfo]) -> ([Int], ExecutionError?) {
        guard inputs.count == 1, let input = inputs.first else {
            return ([], .badInput("the model has \(inputs.count) data inputs (\(inputs.map(\.name).joined(separator: ", "))); feed them from an .npz with one array per input name"))
        }
        var row = [Int]()
        if let dims = input.shape, dims.count >= 2 {
            for d in dims.dropFirst() {
                guard case .fixed(let v) = d, v > 0 else {
                    return ([], .badInput("input '\(input.name)' has shape \(input.type), whose dimensions after the batch axis must be fixed to be fed from a table; feed it from an .npz"))
                }
                row.append(Int(v))
                guard row.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) <= OpContext.maxElements else {
                    return ([], .badInput("input '\(input.name)' has shape \(input.type), too large for one row"))
                }
            }
        } else if input.shape?.count != 1 {
            return ([], .badInput("input '\(input.name)' has no known shape"))
        }
        return (row, nil)
    }

    /// Feeds of one row that any graph input takes: zeros of its element kind, with 1 for each
    /// dimension that is not fixed (a sequence of one token 0 with an attention mask of 0).
    func probeFeeds() throws(ExecutionError) -> [String: NDArray] {
        if tableRefusal == nil {
            let probe = Dataset(featureNames: (0..<featureCount).map { "f\($0)" }, features: [Float](repeating: 0, count: featureCount), rows: 1)
            return [inputName: try batch(probe, rows: [0])]
        }
        var out: [String: NDArray] = [:]
        for input in network.feedInputs {
            let shape = (input.shape ?? [.fixed(1)]).enumerated().map { i, d -> Int in
                if i > 0, case .fixed(let v) = d, v > 0, v <= Int64(OpContext.maxElements) { return Int(v) }
                return 1
            }
            guard shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) <= OpContext.maxElements else {
                throw ExecutionError.badInput("input '\(input.name)' has shape \(input.type), too large for one row")
            }
            out[input.name] = try GraphFeeds.converted(NDArray.zeros(shape), to: input.elemType, name: input.name, source: "the probe row")
        }
        return out
    }
}
