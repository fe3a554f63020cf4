import AICompressCore

/// Where a reader finds the files a model names beside itself (ONNX external data, the shards of
/// a safetensors index). Readers take one, so they can read a model from bytes alone.
public protocol SideFileResolver: Sendable {
    /// Maps the file `name`, relative to the model's folder.
    /// - Throws: `SideFileError` when the name may not or cannot be resolved, or `FileError`.
    func open(_ name: String) throws -> InputFile
}

/// Why a side file was not opened; readers turn it into their own error, naming the tensor.
public enum SideFileError: Error, Equatable, Sendable {
    /// The name leaves the model's folder (absolute, `..`, `\`, or a link leading out).
    case outsideFolder(String)
    /// The model has no folder (it was read from standard input or from memory).
    case unavailable(String)
}

extension SideFileError: DataFault {
    /// The message, naming the side file.
    public var description: String {
        switch self {
        case .outsideFolder(let n): return "'\(n)' leaves the model's folder (absolute path, '..' or a link); refused"
        case .unavailable(let n): return "'\(n)' cannot be resolved for a model read from standard input"
        }
    }
}

/// Side files from the folder of the model file, kept inside it (`ContainedPath`).
public struct FolderSideFiles: SideFileResolver {
    /// The folder (`""` for the working directory).
    public let folder: String

    /// The side files of the model at `path`.
    public init(besides path: String) { folder = ContainedPath.folder(of: path) }

    /// Maps `name` from the folder, once `ContainedPath` has checked it stays inside.
    public func open(_ name: String) throws -> InputFile {
        try InputFile(path: try ContainedPath.resolve(name, in: folder))
    }
}

/// No side files: a model read from standard input or from memory (fuzzing).
public struct NoSideFiles: SideFileResolver {
    /// A resolver that refuses every name.
    public init() {}

    /// Refuses `name`: there is no folder to find it in.
    public func open(_ name: String) throws -> InputFile { throw SideFileError.unavailable(name) }
}
