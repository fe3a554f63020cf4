#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one check that a file named inside a model (ONNX external data, a safetensors shard)
/// stays in the model's folder: the name is refused if it is absolute or holds `..`, a
/// backslash or NUL, and then the real paths (links resolved) are compared, so that no link
/// leads out either.
enum ContainedPath {
    /// The folder of `path`: `""` for a bare file name, `/` for a file at the root.
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return path[..<slash].isEmpty ? "/" : String(path[..<slash])
    }

    /// `name` inside `folder`, as a path to open.
    static func join(_ folder: String, _ name: String) -> String {
        folder.isEmpty ? name : folder + "/" + name
    }

    /// The path of `name` inside `folder`, once it is known to stay inside.
    /// - Throws: `SideFileError.outsideFolder`, or `FileError.cannotOpen` when the folder or the
    ///   file does not exist.
    static func resolve(_ name: String, in folder: String) throws -> String {
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.hasPrefix("/"), !name.contains("\\"), !name.contains("\0"), !components.contains("..") else {
            throw SideFileError.outsideFolder(name)
        }
        let path = join(folder, name)
        let base = folder.isEmpty ? "." : folder
        guard let realFolder = realPath(base) else { throw FileError.cannotOpen(path: base, errno: errno) }
        guard let realFile = realPath(path) else { throw FileError.cannotOpen(path: path, errno: errno) }
        let prefix = realFolder.hasSuffix("/") ? realFolder : realFolder + "/"
        guard realFile.hasPrefix(prefix) else { throw SideFileError.outsideFolder(name) }
        return path
    }

    private static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}
