import AICompressCore

/// What can be wrong with a scale-out run over a sharded safetensors set: the shard asked for
/// (`--shard K/N`), or the partial indexes `merge` joins (spec/sharded-runs.md).
public enum ShardedRunError: Error, Equatable, Sendable {
    /// `--shard` was given for an input that is not a sharded set.
    case notSharded(input: String)
    /// N is not the number of shard files the input's index names.
    case shardCountMismatch(index: String, given: Int, actual: Int)
    /// No partial index lies beside the index to be written.
    case noParts(index: String)
    /// The partial index of shard K (its expected path) is not there.
    case missingPart(path: String)
    /// The shard file a partial index names is not there.
    case missingShard(path: String)
    /// A partial index is not one (bad JSON, a missing or mistyped field).
    case invalidPart(path: String, reason: String)
    /// Two partial indexes disagree on N, or a part's name and content disagree.
    case partsDisagree(path: String, reason: String)
    /// A tensor named by two partial indexes.
    case duplicateTensor(tensor: String, part: String, otherPart: String)
    /// A shard file's size is not the size its partial index recorded.
    case shardSizeMismatch(path: String, expected: Int, actual: Int)
    /// A shard file does not hold exactly the tensors its partial index names.
    case shardTensorsMismatch(path: String, tensor: String)
}

extension ShardedRunError: DataFault {
    /// A wrong `--shard` is a usage error; absent parts or shards cannot be opened; the rest is
    /// inconsistent data.
    public var faultKind: FaultKind {
        switch self {
        case .notSharded, .shardCountMismatch: return .usage
        case .noParts, .missingPart, .missingShard: return .noInput
        default: return .data
        }
    }

    public var description: String {
        switch self {
        case .notSharded(let p): return "\(p): --shard needs a sharded safetensors input (an index.json or one of its shards)"
        case .shardCountMismatch(let i, let g, let a): return "\(i): the index names \(a) shard files, not \(g); give --shard K/\(a)"
        case .noParts(let i): return "\(i): no partial index (\(i).part-*) beside it; run each shard with --shard K/N first"
        case .missingPart(let p): return "\(p): missing; that shard has not been written (or not finished)"
        case .missingShard(let p): return "\(p): missing; its partial index names it"
        case .invalidPart(let p, let r): return "\(p): not a partial index: \(r)"
        case .partsDisagree(let p, let r): return "\(p): \(r)"
        case .duplicateTensor(let t, let p, let o): return "\(p): tensor '\(t)' is also in \(o)"
        case .shardSizeMismatch(let p, let e, let a): return "\(p): \(a) bytes, its partial index recorded \(e) (rewritten since?)"
        case .shardTensorsMismatch(let p, let t): return "\(p): tensor '\(t)' is not both in the file and in its partial index"
        }
    }
}
