import AICompressCore
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The `aicompress` command: inspect, convert, compress, evaluate and fine-tune models. Each
/// subcommand is a type nested in this one, one file each, listed below; its name is the
/// command's (`AICompress.Prune` is `aicompress prune`), spelled out as `commandName` in its
/// configuration: ArgumentParser would otherwise derive every command's name on every run with
/// `String(describing:)`, whose protocol casts scan the binary's whole conformance table (about
/// half of the start-up of `inspect`).
@main
struct AICompress: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aicompress",
        abstract: "Inspect, convert and compress neural-network checkpoints.",
        discussion: """
            Files are read by content (magic bytes) and written by extension; `-` is standard input \
            or output. Outputs are written atomically: a failed command leaves no partial file.

            Exit codes: 0 success, 64 usage, 65 invalid or unsupported input data, 66 input cannot \
            be opened, 73 output cannot be created, 74 I/O error while reading or writing, 70 internal error.
            """,
        version: AICompressVersion.string,
        subcommands: [Inspect.self, Verify.self, Diff.self, Convert.self, Prune.self, Quantize.self, Dequantize.self,
                      Evaluate.self, Imatrix.self, Predict.self, Train.self, Distill.self, Apply.self, Recipe.self, Report.self, Merge.self]
    )

    /// Parses, runs, and maps library errors to one-line messages and exit codes (the only place
    /// that exits).
    static func main() {
        signal(SIGPIPE, SIG_IGN)  // a closed pipe becomes EPIPE, reported as an I/O error
        signal(SIGXFSZ, SIG_IGN)  // a file-size limit becomes EFBIG, reported as an I/O error
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as ExitStatus.Failure {
            FileHandleOutput.stderr("aicompress: error: \(failure.message)\n")
            Glibc.exit(failure.code)
        } catch {
            if let status = ExitStatus(error) {
                FileHandleOutput.stderr("aicompress: error: \(status.message)\n")
                Glibc.exit(status.code)
            }
            // Usage errors, --help and --version are the argument parser's; anything else that
            // reaches here is a bug: report it as an internal error (70).
            if exitCode(for: error) == .failure {
                FileHandleOutput.stderr("aicompress: internal error: \(error)\n")
                Glibc.exit(ExitStatus.software)
            }
            exit(withError: error)
        }
    }
}
