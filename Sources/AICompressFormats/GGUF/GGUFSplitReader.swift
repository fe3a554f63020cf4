import AICompressCore

/// Reads a split GGUF model (`GGUFSplit`) from any one of its shards, as llama.cpp's model loader
/// does from the first: the shard's own keys give the prefix and the count, the other shards are
/// opened by name beside it, and each must say it is the shard its name says, of the same set.
public enum GGUFSplitReader {
    /// A shard's split keys.
    public struct Info: Sendable, Equatable {
        /// `split.no`: 0-based place in the set.
        public let number: Int
        /// `split.count`.
        public let count: Int
        /// `split.tensors.count`.
        public let tensors: Int
    }

    /// One file of a model: its path and parsed contents.
    public struct Shard: Sendable {
        /// The path (as the resolver opened it).
        public let path: String
        /// The parsed file.
        public let file: GGUFFile

        /// A shard read from `path`.
        public init(path: String, file: GGUFFile) {
            self.path = path
            self.file = file
        }
    }

    /// The split keys of `file` (at `path`); nil for a file that is no shard: without
    /// `split.count`, or with 0 there (what `llama-gguf-split --merge` leaves in its output).
    /// - Throws: `GGUFSplitError` for mistyped, missing or out-of-range keys.
    public static func info(_ file: GGUFFile, path: String) throws(GGUFSplitError) -> Info? {
        guard let countValue = file[GGUFSplit.countKey] else { return nil }
        let count = try u16(countValue, GGUFSplit.countKey, path)
        guard count > 0 else { return nil }
        guard let noValue = file[GGUFSplit.numberKey] else { throw .missingKey(file: path, key: GGUFSplit.numberKey) }
        let number = try u16(noValue, GGUFSplit.numberKey, path)
        guard let tensorsValue = file[GGUFSplit.tensorsCountKey] else { throw .missingKey(file: path, key: GGUFSplit.tensorsCountKey) }
        guard case .int32(let tensors) = tensorsValue else {
            throw .keyType(file: path, key: GGUFSplit.tensorsCountKey, type: tensorsValue.type)
        }
        guard number < count else { throw .numberOutOfRange(file: path, number: number, count: count) }
        guard tensors >= 0 else { throw .negativeTensorCount(file: path, count: Int(tensors)) }
        return Info(number: number, count: count, tensors: Int(tensors))
    }

    private static func u16(_ v: GGUFValue, _ key: String, _ path: String) throws(GGUFSplitError) -> Int {
        guard case .uint16(let x) = v else { throw .keyType(file: path, key: key, type: v.type) }
        return Int(x)
    }

    /// Every file of the model that `given` (at `path`) belongs to, in shard order; `[given]`
    /// for a file that is no shard. `open` maps and parses a shard by its name beside `path`
    /// (with its 0-based number and the count, to name a missing one).
    /// - Throws: `GGUFSplitError` for a set that does not hang together, or what `open` throws.
    public static func assemble(given: GGUFFile, path: String,
                                open: (_ name: String, _ number: Int, _ count: Int) throws -> Shard) throws -> [Shard] {
        let me = Shard(path: path, file: given)
        guard let info = try info(given, path: path) else { return [me] }
        var shards: [Shard] = []
        if info.count == 1 {
            shards = [me]
        } else {
            guard path != "-" else { throw GGUFSplitError.fromStandardInput(count: info.count) }
            let base = String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
            guard let prefix = GGUFSplit.prefix(of: base, number: info.number, count: info.count) else {
                throw GGUFSplitError.unexpectedName(file: path, expectedSuffix: String(GGUFSplit.name(prefix: "", number: info.number, count: info.count)))
            }
            for k in 0..<info.count {
                shards.append(k == info.number ? me : try open(GGUFSplit.name(prefix: prefix, number: k, count: info.count), k, info.count))
            }
        }
        try check(shards)
        return shards
    }

    /// Every shard says it is the one its place says, of the set the first describes, and the
    /// tensors are those `split.tensors.count` counts, each in one shard.
    static func check(_ shards: [Shard]) throws(GGUFSplitError) {
        var first: Info?
        var seen: [String: String] = [:]
        for (k, shard) in shards.enumerated() {
            guard let info = try info(shard.file, path: shard.path) else { throw .notAShard(file: shard.path) }
            let reference = first ?? info
            guard info.count == reference.count else { throw .countMismatch(file: shard.path, count: info.count, expected: reference.count) }
            guard info.number == k else { throw .numberMismatch(file: shard.path, number: info.number, expected: k) }
            guard info.tensors == reference.tensors else {
                throw .tensorsCountMismatch(file: shard.path, count: info.tensors, expected: reference.tensors)
            }
            first = reference
            for t in shard.file.tensors {
                if let other = seen.updateValue(shard.path, forKey: t.info.name) {
                    throw .duplicateTensor(tensor: t.info.name, file: shard.path, otherFile: other)
                }
            }
        }
        if let first, seen.count != first.tensors {
            throw .tensorCountMismatch(file: shards[0].path, expected: first.tensors, found: seen.count)
        }
    }
}
