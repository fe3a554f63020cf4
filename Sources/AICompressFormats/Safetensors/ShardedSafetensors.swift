import AICompressCore
#if canImport(Glibc)
import Glibc
#endif

/// Sharded Hugging Face checkpoints: `NAME.safetensors.index.json` mapping every tensor to one
/// of the shard files beside it (`{"metadata": {"total_size": N}, "weight_map": {...}}`).
public enum ShardedSafetensors {
    /// Largest index file accepted.
    public static let maxIndexBytes = 100_000_000

    /// The parsed index: shard file names in first-use order, and each tensor's shard.
    struct Index {
        var shards: [String] = []
        var weightMap: [String: String] = [:]
        var metadata: [String: String] = [:]
    }

    static func parseIndex(_ bytes: UnsafeRawBufferPointer) throws(SafetensorsError) -> Index {
        guard bytes.count <= maxIndexBytes else { throw .invalidIndex("larger than \(maxIndexBytes) bytes") }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw .invalidIndex("\(error)") }
        guard case .object(let map)? = json["weight_map"] else { throw .invalidIndex("no weight_map object") }
        var index = Index()
        for (tensor, file) in map {
            guard let f = file.stringValue, !f.isEmpty else { throw .invalidIndex("the shard of '\(tensor)' is not a file name") }
            if !index.shards.contains(f) { index.shards.append(f) }
            index.weightMap[tensor] = f
        }
        index.shards.sort()
        if case .object(let meta)? = json["metadata"] {
            for (k, v) in meta where k != "total_size" {
                if let s = v.stringValue { index.metadata[k] = s }
            }
        }
        return index
    }

    /// The index beside `shardPath` that names it, if any (`*.safetensors.index.json`).
    public static func indexNaming(shard shardPath: String) -> String? {
        let folder = ContainedPath.folder(of: shardPath)
        let base = String(shardPath.split(separator: "/").last ?? "")
        for name in entries(in: folder).filter({ $0.hasSuffix(".safetensors.index.json") }) {
            let path = ContainedPath.join(folder, name)
            guard let file = try? InputFile(path: path), let index = try? file.buffer.withUnsafeBytes({ try parseIndex($0) }) else { continue }
            if index.shards.contains(base) { return path }
        }
        return nil
    }

    /// The names in `folder` (`""`: the current one), sorted; none when it cannot be listed.
    static func entries(in folder: String) -> [String] {
        guard let dir = opendir(folder.isEmpty ? "." : folder) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            })
        }
        return names.sorted()
    }

    /// Reads every shard named by the index in `indexFile`; the shards come from `sideFiles`
    /// (which keeps them inside the index's folder).
    /// - Returns: the model (shards in name order, tensors in buffer order), the shard files,
    ///   and the CRC-32 of the index and its shards in order.
    /// - Throws: `SafetensorsError`, `FileError`, or a `ModelFileError` naming a broken shard.
    static func read(index indexFile: InputFile, sideFiles: any SideFileResolver) throws -> (model: Model, shards: [InputFile], crc32: UInt32) {
        let index = try indexFile.buffer.withUnsafeBytes { try parseIndex($0) }
        var model = Model()
        var files: [InputFile] = []
        var metadata = index.metadata
        var crc = CRC32.checksum(indexFile.buffer.bytes)
        // The shard file each tensor and metadata key came from, to name it in an error.
        var origin: [String: String] = [:]
        for shard in index.shards {
            let file: InputFile
            do { file = try sideFiles.open(shard) } catch SideFileError.outsideFolder(shard) { throw SafetensorsError.shardEscapes(shard) }
            files.append(file)
            let part: Model
            do {
                let (m, shardCRC) = try SafetensorsReader.read(file.buffer, foldQuantized: false)
                part = m
                crc = CRC32.combine(crc, shardCRC, lengthB: file.size)
            } catch {
                throw ModelFileError(path: file.path, kind: .invalid(error))
            }
            let expected = Set(index.weightMap.filter { $0.value == shard }.keys)
            for t in part.tensors {
                guard expected.contains(t.name) else { throw SafetensorsError.shardUnexpectedTensor(shard: shard, tensor: t.name) }
                do { try model.append(t) } catch { throw SafetensorsError.duplicateTensorAcrossShards(t.name) }
            }
            if let missing = expected.subtracting(part.tensors.map(\.name)).sorted().first {
                throw SafetensorsError.shardMissingTensor(shard: shard, tensor: missing)
            }
            for (k, v) in part.metadata where metadata[k] == nil {
                metadata[k] = v
                origin[k] = file.path
            }
            for t in part.tensors { origin[t.name] = file.path }
        }
        model.metadata = metadata
        let folded: Model
        do { folded = try SafetensorsQuantization.fold(model) } catch {
            // A quantized tensor's group is described in its shard's metadata: the error is that shard's.
            guard case .invalidEntry(let name, _) = error,
                  let path = origin[SafetensorsQuantization.keyPrefix + name] ?? origin[name] else { throw error }
            throw ModelFileError(path: path, kind: .invalid(error))
        }
        return (folded, files, crc)
    }

    /// Splits tensors, in order, into shards of at most `maxBytes` (a larger tensor gets a
    /// shard of its own). Each group (a quantized tensor lowered to `NAME`, `NAME_scale`,
    /// `NAME_zero_point`) goes into one shard whole.
    static func plan(_ groups: [[Tensor]], maxBytes: Int) -> [[Tensor]] {
        var shards: [[Tensor]] = []
        var current: [Tensor] = []
        var size = 0
        for group in groups {
            let bytes = group.reduce(0) { $0 + $1.data.count }
            if !current.isEmpty && size + bytes > maxBytes {
                shards.append(current)
                current = []
                size = 0
            }
            current.append(contentsOf: group)
            size += bytes
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    /// File names for `count` shards of `path` (`dir/model.safetensors` ->
    /// `dir/model-00001-of-00003.safetensors`) and its index path.
    static func names(for path: String, count: Int) -> (shards: [String], index: String) {
        let stem = path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path
        let shards = (1...max(count, 1)).map { "\(stem)-\(pad($0))-of-\(pad(count)).safetensors" }
        return (shards, stem + ".safetensors.index.json")
    }

    /// `n` in at least five digits, as shard names number their files.
    static func pad(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 5 - s.count)) + s
    }

    /// The index JSON for shards written by `write`.
    static func indexJSON(shards: [[Tensor]], shardNames: [String]) -> [UInt8] {
        var total = 0
        var map: [(String, String)] = []
        for (i, group) in shards.enumerated() {
            let base = String(shardNames[i].split(separator: "/").last ?? "")
            for t in group {
                total += t.data.count
                map.append((t.name, base))
            }
        }
        return indexJSON(weightMap: map, totalSize: total)
    }

    /// The index JSON for `weightMap` (tensor, shard file name) pairs, sorted here, and the
    /// tensor bytes of all shards: one process (`write`) and `merge` write the same bytes.
    static func indexJSON(weightMap: [(String, String)], totalSize total: Int) -> [UInt8] {
        var map = weightMap
        map.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        var json = "{\n  \"metadata\": {\n    \"total_size\": \(total)\n  },\n  \"weight_map\": {\n"
        json += map.map { "    \(JSONWriter.quote($0.0)): \(JSONWriter.quote($0.1))" }.joined(separator: ",\n")
        json += "\n  }\n}\n"
        return Array(json.utf8)
    }
}
