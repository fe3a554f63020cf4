import AICompressCore

/// What can be wrong with a split GGUF model (`GGUFSplit`) as a whole: each case names the shard
/// file at fault. Errors inside one shard's bytes are that shard's `GGUFError`, with its path.
public enum GGUFSplitError: Error, Equatable, Sendable {
    /// A split key with the wrong type (`split.no` and `split.count` are u16,
    /// `split.tensors.count` i32).
    case keyType(file: String, key: String, type: GGUFValueType)
    /// `split.count` is set (above 1) but another split key is missing.
    case missingKey(file: String, key: String)
    /// `split.no` is not below `split.count`.
    case numberOutOfRange(file: String, number: Int, count: Int)
    /// `split.tensors.count` is negative.
    case negativeTensorCount(file: String, count: Int)
    /// The file is not named `PREFIX-%05d-of-%05d.gguf` for its own `split.no` and `split.count`.
    case unexpectedName(file: String, expectedSuffix: String)
    /// A shard of a split model was given on standard input: its other shards have no folder.
    case fromStandardInput(count: Int)
    /// A shard file the first names is not there.
    case missingShard(file: String, number: Int, count: Int)
    /// A shard is not a shard of the set (no `split.count`).
    case notAShard(file: String)
    /// A shard's `split.count` differs from the first shard's.
    case countMismatch(file: String, count: Int, expected: Int)
    /// A shard's `split.no` is not its place in the set.
    case numberMismatch(file: String, number: Int, expected: Int)
    /// A shard's `split.tensors.count` differs from the first shard's.
    case tensorsCountMismatch(file: String, count: Int, expected: Int)
    /// A tensor in two shards.
    case duplicateTensor(tensor: String, file: String, otherFile: String)
    /// The shards hold a different number of tensors than `split.tensors.count` says.
    case tensorCountMismatch(file: String, expected: Int, found: Int)
}

extension GGUFSplitError: DataFault {
    /// A shard that cannot be found is a missing input; everything else is inconsistent data.
    public var faultKind: FaultKind {
        switch self {
        case .missingShard, .fromStandardInput: return .noInput
        default: return .data
        }
    }

    /// The message, naming the shard file first.
    public var description: String {
        switch self {
        case .keyType(let f, let k, let t):
            return "\(f): split key '\(k)' has type \(t), not \(k == GGUFSplit.tensorsCountKey ? "INT32" : "UINT16")"
        case .missingKey(let f, let k): return "\(f): split GGUF shard without '\(k)'"
        case .numberOutOfRange(let f, let n, let c): return "\(f): split.no \(n) is out of range for split.count \(c)"
        case .negativeTensorCount(let f, let c): return "\(f): split.tensors.count \(c) is negative"
        case .unexpectedName(let f, let s): return "\(f): a split GGUF shard must be named PREFIX\(s) by its split.no and split.count"
        case .fromStandardInput(let c): return "<stdin>: a shard of a \(c)-file split GGUF model; give the first shard's path, not standard input"
        case .missingShard(let f, let n, let c): return "\(f): missing; shard \(n + 1) of the \(c) of this split GGUF model"
        case .notAShard(let f): return "\(f): not a split GGUF shard (no split.count), but named as one"
        case .countMismatch(let f, let c, let e): return "\(f): split.count \(c), the first shard says \(e)"
        case .numberMismatch(let f, let n, let e): return "\(f): split.no \(n), expected \(e) for this file"
        case .tensorsCountMismatch(let f, let c, let e): return "\(f): split.tensors.count \(c), the first shard says \(e)"
        case .duplicateTensor(let t, let f, let o): return "\(f): tensor '\(t)' is also in \(o)"
        case .tensorCountMismatch(let f, let e, let n): return "\(f): split.tensors.count is \(e) but the shards hold \(n) tensors"
        }
    }
}
