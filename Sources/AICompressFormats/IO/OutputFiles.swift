/// The files one output consists of (a model and its external data, shards and their index),
/// committed together in the order they were created, or all removed.
final class OutputFiles {
    private var files: [OutputFile] = []

    /// Opens another output file.
    /// - Throws: `FileError.cannotCreate`.
    func create(_ path: String, durable: Bool) throws -> OutputFile {
        let f = try OutputFile(path: path, durable: durable)
        files.append(f)
        return f
    }

    /// Removes `file` now instead of committing it (e.g. an external data file left empty).
    func discard(_ file: OutputFile) {
        file.abort()
        files.removeAll { $0 === file }
    }

    /// Moves every file into place, in creation order (so an index or a model goes in after the
    /// files it refers to).
    func commit() throws {
        for f in files { try f.commit() }
    }

    /// Removes every file not yet committed.
    func abort() {
        for f in files { f.abort() }
    }
}
