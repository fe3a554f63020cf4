/// One shard of a sharded safetensors set chosen for a scale-out run (`--shard K/N`): shard
/// `k` (1-based) of the `n` shard files an index names, in name order.
public struct ShardPart: Sendable, Equatable, CustomStringConvertible {
    /// The shard, 1-based.
    public let k: Int
    /// How many shards the set has.
    public let n: Int

    /// `k` of `n`; nil unless 1 ≤ k ≤ n.
    public init?(k: Int, n: Int) {
        guard n >= 1, k >= 1, k <= n else { return nil }
        self.k = k
        self.n = n
    }

    /// `K/N`, as on the command line; nil for anything else (`0/3`, `4/3`, `2`, `a/b`).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(k: k, n: n)
    }

    /// `K/N`.
    public var description: String { "\(k)/\(n)" }

    /// The file names a run of this part writes for the output `path`
    /// (`dir/model.safetensors`): its shard, and its partial index beside the final index
    /// (`dir/model.safetensors.index.json.part-00002-of-00003`).
    public func outputNames(for path: String) -> (shard: String, part: String, index: String) {
        let (shards, index) = ShardedSafetensors.names(for: path, count: n)
        return (shards[k - 1], index + ".part-" + ShardedSafetensors.pad(k) + "-of-" + ShardedSafetensors.pad(n), index)
    }
}
