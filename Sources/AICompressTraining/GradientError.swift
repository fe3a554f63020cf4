import AICompressCore

/// Why training would change nothing: the loss has no gradient to the trainable tensors.
/// Reported instead of a run that ends "trained N parameters" with every weight unchanged.
public enum GradientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// By the graph's dependencies, no gradient from the loss at `value` (which gives the graph
    /// output `output`) reaches a trainable tensor.
    case noPath(output: String, value: String, GradientBlock)
    /// Through the whole first epoch, every trainable tensor's gradient was exactly zero.
    case allZero(values: [String])

    /// One line, without a file name (the caller knows which file the model came from).
    public var description: String {
        switch self {
        case .noPath(let output, let value, let block):
            let at = output == value ? "output '\(output)'" : "output '\(output)' (trained at value '\(value)')"
            switch block {
            case .noTrainableInput:
                return "\(at) does not depend on any trainable tensor: the loss has no gradient, nothing can be trained"
            case .node(let name, let op):
                return "\(at) depends on the trainable tensors only through node '\(name)' (\(op)), which passes no gradient: nothing can be trained"
            }
        case .allZero(let values):
            let at = values.map { "'\($0)'" }.joined(separator: ", ")
            return "the loss at \(at) gave every trainable tensor an exactly zero gradient through the first epoch (it does not depend on them, or the model already fits every row exactly): nothing was trained"
        }
    }
}

extension GradientError: DataFault {}
