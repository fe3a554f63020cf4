import AICompressCore

/// What can go wrong in the phases of global magnitude pruning run in shards (statistics,
/// threshold merge, application; spec/sharded-runs.md §6). Every message names the file.
public enum GlobalPruneError: Error, Equatable, Sendable {
    /// A statistics part or threshold file is not one (bad magic, a field out of range,
    /// counts that do not add up, trailing bytes).
    case malformed(file: String, reason: String)
    /// Files of one run disagree (another model, other options, another shard count or
    /// round, a shard counted twice).
    case disagree(file: String, reason: String)
    /// A file was used in the wrong phase (a round-1 threshold applied, a final one counted
    /// again); the reason says what to run.
    case wrongRound(file: String, reason: String)
    /// The command's pruning options are not those the file was made with.
    case optionsDiffer(file: String, recorded: String, command: String)
    /// The input is not the model the file was made from, or its shard selects other tensors.
    case inputDiffers(file: String, reason: String)
    /// No statistics part lies beside the threshold file to be written.
    case noParts(threshold: String)
    /// The statistics part of one shard is not there.
    case missingPart(path: String)
    /// The threshold file to count against or to apply is not there.
    case missingThreshold(path: String)
}

extension GlobalPruneError: DataFault {
    /// Files used in the wrong phase or with other options are usage errors (64); absent files
    /// cannot be opened (66); the rest is inconsistent data (65).
    public var faultKind: FaultKind {
        switch self {
        case .wrongRound, .optionsDiffer: return .usage
        case .noParts, .missingPart, .missingThreshold: return .noInput
        case .malformed, .disagree, .inputDiffers: return .data
        }
    }

    public var description: String {
        switch self {
        case .malformed(let f, let r): return "\(f): not a global pruning statistics file: \(r)"
        case .disagree(let f, let r): return "\(f): \(r)"
        case .wrongRound(let f, let r): return "\(f): \(r)"
        case .optionsDiffer(let f, let recorded, let command):
            return "\(f): made with '\(recorded)', but this command prunes with '\(command)'"
        case .inputDiffers(let f, let r): return "\(f): \(r)"
        case .noParts(let t): return "\(t): no statistics part (\(t).part-*) beside it; run each shard with --stats first"
        case .missingPart(let p): return "\(p): missing; that shard's statistics have not been written (or not finished)"
        case .missingThreshold(let p): return "\(p): missing; merge the statistics parts first (aicompress merge \(p))"
        }
    }
}
