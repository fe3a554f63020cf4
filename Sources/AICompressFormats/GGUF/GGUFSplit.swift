import AICompressCore

/// llama.cpp's split GGUF layout (tools/gguf-split/gguf-split.cpp, src/llama-model-loader.cpp):
/// a model as shards `PREFIX-00001-of-00003.gguf`, … each a complete GGUF file with its own
/// tensor index and data. Every shard carries `split.no` (u16, 0-based), `split.count` (u16) and
/// `split.tensors.count` (i32, the tensors of the whole model); the first also carries all of the
/// model's metadata, before those three keys.
public enum GGUFSplit {
    /// The shard's 0-based number.
    public static let numberKey = "split.no"
    /// The number of shards.
    public static let countKey = "split.count"
    /// The tensors of all shards together.
    public static let tensorsCountKey = "split.tensors.count"
    /// The three keys, which describe the files rather than the model.
    public static let keys: Set<String> = [numberKey, countKey, tensorsCountKey]

    /// The file name of shard `number` (0-based) of `count`: llama.cpp's `%s-%05d-of-%05d.gguf`.
    public static func name(prefix: String, number: Int, count: Int) -> String {
        "\(prefix)-\(pad(number + 1))-of-\(pad(count)).gguf"
    }

    /// The prefix of `path` when it is shard `number` of `count` by name (llama.cpp's
    /// `llama_split_prefix`), nil when it is not named so.
    public static func prefix(of path: String, number: Int, count: Int) -> String? {
        let suffix = "-\(pad(number + 1))-of-\(pad(count)).gguf"
        guard path.count > suffix.count, path.hasSuffix(suffix) else { return nil }
        return String(path.dropLast(suffix.count))
    }

    /// The prefix shards of output `path` are named after: the path without `.gguf`.
    static func prefix(ofOutput path: String) -> String {
        path.lowercased().hasSuffix(".gguf") ? String(path.dropLast(5)) : path
    }

    /// `n` in at least five digits (`%05d`).
    static func pad(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 5 - s.count)) + s
    }

    /// Tensor indices per shard, gguf-split's `--split-max-size` rule: tensors in order, each
    /// counted at its size padded to 32 bytes (`GGUF_DEFAULT_ALIGNMENT`, metadata not counted);
    /// a tensor that would take the shard past `maxBytes` starts the next one. A tensor larger
    /// than `maxBytes` gets a shard of its own (gguf-split gives up on a first one).
    static func plan(_ byteCounts: [Int], maxBytes: Int) -> [Range<Int>] {
        var shards: [Range<Int>] = []
        var start = 0, size = 0
        for (i, n) in byteCounts.enumerated() {
            let padded = n + GGUFWriter.padding(n, GGUFLimits.defaultAlignment)
            if i > start && size + padded > maxBytes {
                shards.append(start..<i)
                start = i
                size = 0
            }
            size += padded
        }
        shards.append(start..<byteCounts.count)
        return shards
    }

    /// The pairs shard `number` of `count` carries: for the first, the model's pairs, then the
    /// three split keys (in the order gguf-split leaves them: `split.count` is set last); for the
    /// others, the split keys alone.
    static func pairs(model: [GGUFKeyValue], number: Int, count: Int, tensors: Int) throws(GGUFError) -> [GGUFKeyValue] {
        guard let no = UInt16(exactly: number), let n = UInt16(exactly: count), let total = Int32(exactly: tensors) else {
            throw .unrepresentable("\(count) shards of \(tensors) tensors: split.count is a u16 and split.tensors.count an i32")
        }
        let split = [GGUFKeyValue(numberKey, .uint16(no)), GGUFKeyValue(tensorsCountKey, .int32(total)),
                     GGUFKeyValue(countKey, .uint16(n))]
        return number == 0 ? model.filter { !keys.contains($0.key) } + split : split
    }
}
