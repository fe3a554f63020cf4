import AICompressTraining

/// Why a distillation cannot run. Execution errors are wrapped with the model (or data) they
/// came from, so that a caller can name the right file.
public enum DistillationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The teacher does not give several score columns.
    case teacherNotClassifier
    /// The student takes rows of another width than the teacher.
    case studentInputMismatch(student: Int, teacher: Int)
    /// The student gives another number of scores per row than the teacher.
    case studentOutputMismatch(classes: Int)
    /// A feature pair names a student value that does not exist or is not float.
    case studentHasNoValue(String)
    /// Feature matching needs at least one training row to measure the student's widths.
    case noTrainingRows
    /// A parameter of the distillation is out of range.
    case invalidParameter(name: String, reason: String)
    /// Running the teacher failed.
    case teacher(ExecutionError)
    /// Building or running the student failed (training included).
    case student(ExecutionError)
    /// The student's loss has no gradient to its trainable tensors.
    case studentHasNoGradient(GradientError)
    /// The labels of the training (or, with `validation`, the validation) data do not fit the teacher's classes.
    case labels(ExecutionError, validation: Bool)

    /// One line, without a file name (the caller knows which file the model or data came from).
    public var description: String {
        switch self {
        case .teacherNotClassifier: return "the teacher must be a classifier with several output columns"
        case .studentInputMismatch(let s, let t): return "the student takes \(s) features per row, the teacher \(t)"
        case .studentOutputMismatch(let c): return "the student must give \(c) scores per row, as the teacher does"
        case .studentHasNoValue(let v): return "the student has no float value '\(v)'"
        case .noTrainingRows: return "matching features needs at least one training row"
        case .invalidParameter(let name, let reason): return "distillation parameter \(name): \(reason)"
        case .teacher(let e): return "the teacher: \(e)"
        case .student(let e): return "the student: \(e)"
        case .labels(let e, _): return "\(e)"
        case .studentHasNoGradient(let e): return "the student: \(e)"
        }
    }
}
