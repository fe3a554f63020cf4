import AICompressCore
import AICompressFormats
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress report MODEL [--compare ORIGINAL] -o report.html`: one self-contained HTML page.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Write a self-contained HTML report with per-layer charts and weight histograms.",
            discussion: """
                One HTML file, no scripts and no network: inline SVG bar charts of each tensor's \
                stored size, sparsity and bits per weight, and (with --compare) the relative error \
                and SQNR of each tensor against the original and the size before and after; then a \
                weight histogram per tensor (the original's outline overlaid) and the full table. \
                Opens in any browser; prints to PDF.

                Examples:
                  aicompress report small.ckpt --compare model.onnx -o report.html
                  aicompress report model.safetensors -o - > report.html
                """
        )

        @Argument(help: "Model file, or - for standard input.")
        var model: String

        @Option(help: "The original model, to chart the error and size change per tensor.")
        var compare: String?

        @Option(name: .shortAndLong, help: "Output HTML file, or - for standard output.")
        var output: String

        @Option(help: "Histograms for at most this many tensors (the largest).")
        var histograms = 24

        @Option(help: "Bins per histogram.")
        var bins = 40

        func validate() throws {
            guard (1...200).contains(bins) else { throw ValidationError("--bins must be between 1 and 200") }
            guard histograms >= 0 else { throw ValidationError("--histograms must not be negative") }
        }

        func run() throws {
            let loaded = try ModelIO.read(path: model)
            let original = try compare.map { try ModelIO.read(path: $0) }
            let byName = Dictionary(original?.model.tensors.map { ($0.name, $0) } ?? [], uniquingKeysWith: { a, _ in a })
            let ranked = Set(loaded.model.tensors.sorted { $0.elementCount > $1.elementCount }.prefix(histograms).map(\.name))
            let rows = loaded.model.tensors.map { t in
                ReportPage.Row(t, original: byName[t.name], histogramBins: ranked.contains(t.name) && t.elementCount > 1 ? bins : nil)
            }
            let html = ReportPage.html(model: model, loaded: loaded, compare: compare, original: original, rows: rows)
            try FileHandleOutput.save(html, to: output, refusing: loaded.identities + (original?.identities ?? []))
        }
    }
}
