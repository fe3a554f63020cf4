import AICompressFormats
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes to the standard streams without buffering surprises (stderr is not Sendable in Swift 6),
/// and the text outputs of commands (reports, JSON, CSV).
enum FileHandleOutput {
    static func stderr(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }

    /// Writes to standard output; a closed pipe is an I/O error, not a crash.
    static func stdout(_ s: String) throws {
        var bytes = Array(s.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.writeFailed(path: "-", errno: errno)
            }
            done += n
        }
        bytes.removeAll()
    }

    /// Writes `text` to the file at `path` atomically (as models are written), or to standard
    /// output for `-`; `path` may not name one of `inputs`.
    /// - Throws: `FileError` (`outputIsInput`, `cannotCreate`, `writeFailed`).
    static func save(_ text: String, to path: String, refusing inputs: [FileIdentity] = []) throws {
        try ModelIO.checkNotInput(path, inputs)
        var file = try OutputFile(path: path)
        try file.write(Array(text.utf8))
        try file.commit()
    }

    /// Whether live progress may be drawn on stderr: it is a terminal and AICOMPRESS_NO_PROGRESS
    /// is not set (never in pipes, logs or tests).
    static var stderrIsInteractive: Bool {
        isatty(2) == 1 && ProcessInfo.processInfo.environment["AICOMPRESS_NO_PROGRESS"] == nil
    }
}
