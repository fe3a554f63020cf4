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
    /// `model.safetensors`, else its one file with a model extension (`.gguf`, `.onnx`, …).
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
        guard models.count == 1 else { throw .folderWithoutModel(path: path, modelFiles: models) }
        return folder + models[0]
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
