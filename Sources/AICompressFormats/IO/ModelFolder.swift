#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A folder given where a model file goes: a Hugging Face checkpoint folder (config.json,
/// tokenizer.json and the weights) names its weights file, so every command takes the folder as
/// `evaluate` always has.
enum ModelFolder {
    /// `path` unless it is a folder; for a folder, its `model.safetensors.index.json`, else its
    /// `model.safetensors`, else its one file with a model extension (`.gguf`, `.onnx`, …), or the
    /// first shard when its model files are the shards of one split GGUF.
    /// - Throws: `FileError.folderWithoutModel` when none of these picks one file.
    static func entry(_ path: String) throws(FileError) -> String {
        var st = stat()
        guard path != "-", stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return path }
        let folder = path.hasSuffix("/") ? path : path + "/"
        for name in ["model.safetensors.index.json", "model.safetensors"] where isRegularFile(folder + name) {
            return folder + name
        }
        let extensions = ModelFormat.allCases.flatMap(\.handler.extensions)
        let models = fileNames(in: folder).filter { name in
            extensions.contains { name.hasSuffix($0) } && isRegularFile(folder + name)
        }.sorted()
        if models.count == 1 { return folder + models[0] }
        if let first = firstShard(of: models) { return folder + first }
        throw .folderWithoutModel(path: path, modelFiles: models)
    }

    /// The first shard when `names` are exactly the shards of one split GGUF set
    /// (`PREFIX-00001-of-0000N.gguf` … `PREFIX-0000N-of-0000N.gguf`), else nil.
    static func firstShard(of names: [String]) -> String? {
        guard let count = Int(names.first?.dropLast(5).suffix(5) ?? ""), count == names.count else { return nil }
        let first = names.first { GGUFSplit.prefix(of: $0, number: 0, count: count) != nil }
        guard let first, let prefix = GGUFSplit.prefix(of: first, number: 0, count: count) else { return nil }
        let expected = (0..<count).map { GGUFSplit.name(prefix: prefix, number: $0, count: count) }
        return Set(expected) == Set(names) ? first : nil
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The names in `folder`, at most 10,000 (a folder of models is small; a huge one is not read whole).
    private static func fileNames(in folder: String) -> [String] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while names.count < 10_000, let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
