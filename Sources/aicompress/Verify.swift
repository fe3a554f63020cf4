import AICompressCore
import AICompressFormats
import ArgumentParser

extension AICompress {
    /// `aicompress verify FILE…`: check files completely (structure, limits, every checksum).
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check that model files are intact and well-formed.",
            discussion: """
                Runs every check of the reader — layout, limits, the index CRC-32 and every tensor's \
                CRC-32 — and prints one line per file. Stops at the first bad file with its error \
                (exit code 65).

                Examples:
                  aicompress verify model.ckpt
                  aicompress verify shards/*.ckpt
                """
        )

        @Argument(help: "Model files, or - for standard input.")
        var files: [String]

        @Flag(name: .shortAndLong, help: "Print nothing on success.")
        var quiet = false

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("name at least one file") }
        }

        func run() throws {
            for file in files {
                let loaded = try ModelIO.read(path: file)
                if !quiet {
                    try FileHandleOutput.stdout("\(file == "-" ? "<stdin>" : file): ok, \(loaded.format) \(loaded.formatVersion), "
                        + "\(loaded.model.tensors.count) tensors, \(loaded.input.size) bytes, crc32 \(Provenance.hex(loaded.fileCRC32))\n")
                }
            }
        }
    }
}
