import AICompressCore
#if canImport(Glibc)
import Glibc
#endif

/// What `ShardedSafetensors.merge` joined.
public struct ShardMergeSummary: Sendable, Equatable {
    /// The index written.
    public var index: String
    /// Shard files it names.
    public var shards: Int
    /// Tensors it maps (stored names).
    public var tensors: Int
    /// Tensor bytes of all shards (the index's `total_size`).
    public var totalSize: Int
}

extension ShardedSafetensors {
    /// Largest partial index accepted.
    static let maxPartBytes = maxIndexBytes

    /// One partial index as read.
    struct Part {
        var path: String
        var part: ShardPart
        var file: String
        var fileSize: Int
        var totalSize: Int
        var tensors: [String]
    }

    /// Joins the partial indexes beside `indexPath` (`indexPath.part-KKKKK-of-NNNNN`) into the
    /// index one process writes, atomically, then removes them. Every part 1…N must be there
    /// and agree on N; each names its own shard file, which must exist with the recorded size
    /// and hold exactly the recorded tensors; no tensor may be in two parts.
    /// - Throws: `ShardedRunError` naming the missing or inconsistent part, `FileError`.
    public static func merge(index indexPath: String, durable: Bool = false) throws -> ShardMergeSummary {
        let folder = ContainedPath.folder(of: indexPath)
        let prefix = base(indexPath) + ".part-"
        let found = entries(in: folder).filter { $0.hasPrefix(prefix) }.map { ContainedPath.join(folder, $0) }
        guard let first = found.first else { throw ShardedRunError.noParts(index: indexPath) }
        let parts = try found.map(readPart)
        let n = parts[0].part.n
        let stem = indexPath.hasSuffix(".index.json") ? String(indexPath.dropLast(".index.json".count)) : indexPath
        var byK: [Int: Part] = [:]
        for p in parts {
            guard p.part.n == n else {
                throw ShardedRunError.partsDisagree(path: p.path, reason: "a part of \(p.part.n) shards, but \(first) is one of \(n)")
            }
            let names = p.part.outputNames(for: stem)
            guard names.part == p.path else {
                throw ShardedRunError.partsDisagree(path: p.path, reason: "its content says shard \(p.part), which is \(names.part)")
            }
            guard p.file == base(names.shard) else {
                throw ShardedRunError.partsDisagree(path: p.path, reason: "names file '\(p.file)', shard \(p.part) is \(base(names.shard))")
            }
            byK[p.part.k] = p
        }
        var owner: [String: String] = [:]
        var map: [(String, String)] = []
        var total = 0
        for k in 1...n {
            guard let part = ShardPart(k: k, n: n), let p = byK[k] else {
                throw ShardedRunError.missingPart(path: ShardPart(k: k, n: n)?.outputNames(for: stem).part ?? indexPath)
            }
            for t in p.tensors {
                if let other = owner[t] { throw ShardedRunError.duplicateTensor(tensor: t, part: p.path, otherPart: other) }
                owner[t] = p.path
                map.append((t, p.file))
            }
            try checkShard(part.outputNames(for: stem).shard, against: p)
            total += p.totalSize
        }
        let files = OutputFiles()
        do {
            var out = try files.create(indexPath, durable: durable)
            try out.write(indexJSON(weightMap: map, totalSize: total))
            try files.commit()
        } catch {
            files.abort()
            throw error
        }
        // The index is in place: the parts have done their work.
        for p in parts { unlink(p.path) }
        return ShardMergeSummary(index: indexPath, shards: n, tensors: map.count, totalSize: total)
    }

    /// Parses the partial index at `path`.
    static func readPart(_ path: String) throws -> Part {
        let file = try InputFile(path: path)
        func invalid(_ r: String) -> ShardedRunError { .invalidPart(path: path, reason: r) }
        guard file.size <= maxPartBytes else { throw invalid("larger than \(maxPartBytes) bytes") }
        let json: JSONValue
        do { json = try file.buffer.withUnsafeBytes { try JSONParser.parse($0) } } catch { throw invalid("\(error)") }
        guard json["schema"]?.stringValue == partSchema else { throw invalid("schema is not \(partSchema)") }
        guard let k = json["shard"]?.nonNegativeInt, let n = json["shards"]?.nonNegativeInt, let part = ShardPart(k: k, n: n) else {
            throw invalid("shard and shards are not 1 ≤ K ≤ N")
        }
        guard let shard = json["file"]?.stringValue, !shard.isEmpty else { throw invalid("file is not a file name") }
        guard let size = json["file_size"]?.nonNegativeInt, let total = json["total_size"]?.nonNegativeInt else {
            throw invalid("file_size and total_size are not non-negative integers")
        }
        guard case .object(let map)? = json["weight_map"] else { throw invalid("no weight_map object") }
        for (t, f) in map where f.stringValue != shard { throw invalid("tensor '\(t)' is mapped to another file than '\(shard)'") }
        return Part(path: path, part: part, file: shard, fileSize: size, totalSize: total, tensors: map.map(\.key))
    }

    /// Checks that the shard file at `path` has the size and the tensors `part` recorded (its
    /// header only is read).
    static func checkShard(_ path: String, against part: Part) throws {
        let file: InputFile
        do { file = try InputFile(path: path) } catch { throw ShardedRunError.missingShard(path: path) }
        guard file.size == part.fileSize else {
            throw ShardedRunError.shardSizeMismatch(path: path, expected: part.fileSize, actual: file.size)
        }
        let names = try file.buffer.withUnsafeBytes { bytes throws -> Set<String> in
            do { return try SafetensorsReader.tensorNames(bytes) } catch { throw ModelFileError(path: path, kind: .invalid(error)) }
        }
        let recorded = Set(part.tensors)
        if let odd = names.symmetricDifference(recorded).sorted().first {
            throw ShardedRunError.shardTensorsMismatch(path: path, tensor: odd)
        }
    }
}
