import AICompressTraining

/// Why a fine-tuning cannot run.
public enum FineTuningError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every float tensor is frozen, quantized or unused by the graph.
    case nothingToTrain
    /// The loss has no gradient to the trainable tensors (a graph cut, or all-zero gradients).
    case noGradient(GradientError)

    /// One line, without a file name (the caller knows which file the model or data came from).
    public var description: String {
        switch self {
        case .nothingToTrain: return "no trainable float tensors (all frozen, quantized or unused)"
        case .noGradient(let e): return e.description
        }
    }
}
