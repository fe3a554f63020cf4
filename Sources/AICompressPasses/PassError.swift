import AICompressCore

/// Why a pass cannot run.
///
/// Reasons name parameters in backquotes (`` `keep` must be between 0 and 1 ``): `description`
/// prints them as the parameter names a library or recipe user writes (`keep`), and
/// `message(spelling:)` lets the CLI print them as its flags (`--keep`).
public enum PassError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A parameter value is out of range or does not fit the others (a usage error).
    case invalidParameter(name: String, value: String, reason: String)
    /// The selection matches no tensor.
    case nothingSelected(String)
    /// A tensor holds NaN or infinite values where the pass (`pass`: the step that refuses,
    /// `prune` or `quantize`) needs finite ones.
    case nonFinite(tensor: String, count: Int, pass: String)
    /// A tensor cannot take this pass (wrong shape for the granularity, …).
    case unsupported(tensor: String, reason: String)

    /// The message with each backquoted parameter name written by `spelling`.
    public func message(spelling: (String) -> String) -> String {
        switch self {
        case .invalidParameter(_, _, let r): return PassParameter.spell(r, spelling)
        case .nothingSelected(let r): return "no tensor selected: " + PassParameter.spell(r, spelling)
        case .nonFinite(let t, let n, let pass): return "tensor '\(t)': \(n) NaN or infinite values; cannot \(pass)"
        case .unsupported(let t, let r): return "tensor '\(t)': " + PassParameter.spell(r, spelling)
        }
    }

    /// The message naming parameters as written (`keep`).
    public var description: String { message { $0 } }
}

/// A bad parameter or an empty selection is a usage error; the rest are about the data.
extension PassError: DataFault {
    /// `.usage` for invalidParameter and nothingSelected, else `.data` (exit codes 64 and 65).
    public var faultKind: FaultKind { switch self { case .invalidParameter, .nothingSelected: .usage; default: .data } }
}
