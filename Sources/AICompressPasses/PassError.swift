import AICompressCore

/// Why a pass cannot run.
public enum PassError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A parameter is out of range (a usage error).
    case invalidParameter(String)
    /// The selection matches no tensor.
    case nothingSelected(String)
    /// A tensor holds NaN or infinite values where the pass needs finite ones.
    case nonFinite(tensor: String, count: Int)
    /// A tensor cannot take this pass (wrong shape for the granularity, …).
    case unsupported(tensor: String, reason: String)

    public var description: String {
        switch self {
        case .invalidParameter(let r): return r
        case .nothingSelected(let r): return "no tensor selected: \(r)"
        case .nonFinite(let t, let n): return "tensor '\(t)': \(n) NaN or infinite values; cannot quantize"
        case .unsupported(let t, let r): return "tensor '\(t)': \(r)"
        }
    }
}

/// A bad parameter or an empty selection is a usage error; the rest are about the data.
extension PassError: DataFault {
    /// `.usage` for invalidParameter and nothingSelected, else `.data` (exit codes 64 and 65).
    public var faultKind: FaultKind { switch self { case .invalidParameter, .nothingSelected: .usage; default: .data } }
}
