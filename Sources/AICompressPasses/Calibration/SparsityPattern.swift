/// Which weights a calibrated pruning method removes: a fraction of each block of columns
/// (unstructured) or `pruned` of every `group` consecutive inputs of a row (N:M, e.g. 2:4 keeps
/// 2 of 4).
public enum SparsityPattern: Sendable, Equatable {
    /// Remove this fraction (0 ≤ f < 1).
    case unstructured(fraction: Double)
    /// Keep `keep` of every `group` consecutive weights of a row.
    case nOfM(keep: Int, group: Int)

    /// The fraction of weights removed.
    public var fraction: Double {
        switch self {
        case .unstructured(let f): f
        case .nOfM(let keep, let group): Double(group - keep) / Double(group)
        }
    }

    /// Indices of the `count` smallest `scores`, smallest first; ties go to the lower index, so
    /// the choice is the same on every machine.
    static func smallest(_ scores: [Double], count: Int) -> [Int] {
        Array(scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 < $1 }.prefix(count))
    }
}
