import AICompressCore
import AICompressFormats
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress inspect FILE`: per-tensor statistics, totals, metadata, provenance and graph.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show a model's tensors, statistics, metadata and graph.",
            discussion: """
                Verifies the whole file (every checksum) and prints, per tensor: dtype, shape, \
                parameters, stored bytes, sparsity (share of exact zeros) and min/max/mean/std of the \
                finite values; then totals (parameters, bytes, file size, overall sparsity, average \
                bits per weight), metadata, provenance and a graph summary. A split GGUF model, a \
                sharded safetensors set or ONNX with external data is read whole: the sizes are of \
                all its files, and their number is shown. The --json schema is \
                documented in spec/cli-json.md.

                Examples:
                  aicompress inspect model.ckpt
                  aicompress inspect --histogram model.ckpt
                  aicompress inspect --json model.ckpt | jq '.totals'
                """
        )

        @Argument(help: "Model file, or - for standard input.")
        var file: String

        @Flag(help: "Print JSON (schema aicompress.inspect/1) instead of tables.")
        var json = false

        @Flag(help: "Add a histogram of each tensor's values.")
        var histogram = false

        @Option(help: "Histogram bins.")
        var bins = 16

        func validate() throws {
            guard (1...200).contains(bins) else { throw ValidationError("--bins must be between 1 and 200") }
        }

        func run() throws {
            let loaded = try ModelIO.read(path: file)
            let report = InspectReport(loaded: loaded, histogramBins: histogram ? bins : nil)
            try FileHandleOutput.stdout(json ? report.json().rendered() + "\n" : report.text())
        }
    }
}

/// Everything `inspect` shows, computed once and rendered as text or JSON.
struct InspectReport {
    struct Row {
        let tensor: Tensor
        let stats: TensorStatistics
        let histogram: [Int]?
    }

    let path: String
    let loaded: LoadedModel
    let rows: [Row]

    init(loaded: LoadedModel, histogramBins: Int?) {
        self.path = loaded.input.path
        self.loaded = loaded
        rows = loaded.model.tensors.map { t in
            let s = t.statistics()
            let h = histogramBins.flatMap { bins in
                s.min.flatMap { lo in s.max.map { hi in t.histogram(bins: bins, low: lo, high: hi) } }
            }
            return Row(tensor: t, stats: s, histogram: h)
        }
    }

    var totalParameters: Int { rows.reduce(0) { $0 + $1.tensor.elementCount } }
    var totalBytes: Int { rows.reduce(0) { $0 + $1.tensor.storedBytes } }
    var totalZeros: Int { rows.reduce(0) { $0 + $1.stats.zeros } }
    var totalNonFinite: Int { rows.reduce(0) { $0 + $1.stats.nonFinite } }
    var sparsity: Double { totalParameters > 0 ? Double(totalZeros) / Double(totalParameters) : 0 }
    var bitsPerWeight: Double { totalParameters > 0 ? Double(totalBytes * 8) / Double(totalParameters) : 0 }

    var provenance: [(String, String)] {
        loaded.model.metadata.filter { $0.key.hasPrefix("aicompress.") }.sorted { $0.key < $1.key }
    }
    var userMetadata: [(String, String)] {
        loaded.model.metadata.filter { !$0.key.hasPrefix("aicompress.") }.sorted { $0.key < $1.key }
    }

    // MARK: Text

    /// A metadata value as one line; GGUF's typed pairs (`gguf.kv`, base64 in the model) one per
    /// line, arrays as their length and element type (`[32000 strings]`), long strings cut.
    func metadataLine(_ key: String, _ value: String) -> String {
        guard key == GGUFModelMetadata.kvKey, let pairs = try? GGUFModelMetadata.pairs(loaded.model.metadata) else {
            return Format.oneLine(value)
        }
        return "\(pairs.count) typed GGUF pairs\n" + pairs.map { "    \($0.key) = \(ModelHeaderDifference.shown($0.value))" }.joined(separator: "\n")
    }

    func text() -> String {
        let m = loaded.model
        var out = "\(displayPath): \(loaded.format) \(loaded.formatVersion), \(m.tensors.count) tensors, \(Format.bytes(loaded.inputBytes))\n\n"
        let header = ["name", "dtype", "shape", "params", "bytes", "sparsity", "min", "max", "mean", "std"]
        var table: [[String]] = []
        for r in rows {
            let s = r.stats
            table.append([
                r.tensor.name, r.tensor.dtype.name + (r.tensor.encoding == .dense ? "" : "/\(r.tensor.encoding)"),
                r.tensor.shape.description, Format.count(r.tensor.elementCount), Format.count(r.tensor.storedBytes),
                Format.percent(s.sparsity), Format.number(s.min), Format.number(s.max),
                Format.number(s.finiteCount > 0 ? s.mean : nil), Format.number(s.finiteCount > 0 ? s.standardDeviation : nil),
            ])
        }
        out += Format.table(header: header, rows: table, rightAligned: Set(3..<10))
        if rows.contains(where: { $0.histogram != nil }) {
            out += "\nhistograms (finite values, equal-width bins from min to max):\n"
            for r in rows {
                guard let h = r.histogram, let lo = r.stats.min, let hi = r.stats.max else { continue }
                out += "  \(r.tensor.name)\n" + Format.histogram(h, low: lo, high: hi, indent: "    ")
            }
        }
        out += "\ntotal: \(Format.count(totalParameters)) parameters in \(m.tensors.count) tensors, "
            + "\(Format.bytes(totalBytes)) of tensor data, \(inputSize), "
            + "sparsity \(Format.percent(sparsity)), \(Format.printf("%.2f", bitsPerWeight)) bits/weight"
        if totalNonFinite > 0 { out += ", \(Format.count(totalNonFinite)) NaN/Inf values" }
        out += "\n"
        if !userMetadata.isEmpty {
            out += "\nmetadata:\n" + userMetadata.map { "  \($0.0) = \(metadataLine($0.0, $0.1))\n" }.joined()
        }
        if !provenance.isEmpty {
            out += "\nprovenance:\n" + provenance.map { "  \($0.0) = \(Format.oneLine($0.1))\n" }.joined()
        }
        if let g = m.graph {
            let ops = g.opCounts().sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            out += "\ngraph '\(g.name)': \(g.nodes.count) nodes (ops incl. subgraphs: "
                + ops.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + ")\n"
            out += "  inputs:  " + g.inputs.map(\.summary).joined(separator: "; ") + "\n"
            out += "  outputs: " + g.outputs.map(\.summary).joined(separator: "; ") + "\n"
            if !g.opsets.isEmpty {
                out += "  opsets:  " + g.opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }
                    .joined(separator: ", ") + "\n"
            }
            for s in ONNXStringTensors.stringTensors(in: g) {
                let shown = s.values.prefix(8).map { "\"\(Format.oneLine($0))\"" }.joined(separator: ", ")
                out += "  string tensor \(s.name) \(s.shape): \(shown)\(s.values.count > 8 ? ", …" : "")\n"
            }
        }
        return out
    }

    var displayPath: String { path == "-" ? "<stdin>" : path }

    /// The bytes of every file read: `file 1.2 MB`, or `3 files 1.2 MB` for a set.
    var inputSize: String {
        (loaded.inputFiles > 1 ? "\(loaded.inputFiles) files " : "file ") + Format.bytes(loaded.inputBytes)
    }

    // MARK: JSON (spec/cli-json.md)

    func json() -> JSON {
        let m = loaded.model
        var tensors: [JSON] = []
        for r in rows {
            let s = r.stats
            var fields: [(String, JSON)] = [
                ("name", .string(r.tensor.name)),
                ("dtype", .string(r.tensor.dtype.name)),
                ("encoding", .string(r.tensor.encoding.description)),
                ("shape", .array(r.tensor.shape.dims.map { .int($0) })),
                ("parameters", .int(r.tensor.elementCount)),
                ("bytes", .int(r.tensor.storedBytes)),
                ("zeros", .int(s.zeros)),
                ("sparsity", .double(s.sparsity)),
                ("non_finite", .int(s.nonFinite)),
                ("min", .number(s.min)),
                ("max", .number(s.max)),
                ("mean", .number(s.finiteCount > 0 ? s.mean : nil)),
                ("std", .number(s.finiteCount > 0 ? s.standardDeviation : nil)),
            ]
            if let h = r.histogram {
                fields.append(("histogram", .object([
                    ("low", .number(s.min)), ("high", .number(s.max)), ("counts", .array(h.map { .int($0) })),
                ])))
            }
            tensors.append(.object(fields))
        }
        var top: [(String, JSON)] = [
            ("schema", .string("aicompress.inspect/1")),
            ("file", .string(path)),
            ("format", .string(loaded.format.rawValue)),
            ("format_version", .string(loaded.formatVersion)),
            ("file_bytes", .int(loaded.input.size)),
            ("file_crc32", .string(Provenance.hex(loaded.fileCRC32))),
            ("input_files", .int(loaded.inputFiles)),
            ("input_bytes", .int(loaded.inputBytes)),
            ("tensors", .array(tensors)),
            ("totals", .object([
                ("tensors", .int(m.tensors.count)),
                ("parameters", .int(totalParameters)),
                ("bytes", .int(totalBytes)),
                ("zeros", .int(totalZeros)),
                ("sparsity", .double(sparsity)),
                ("non_finite", .int(totalNonFinite)),
                ("bits_per_weight", .double(bitsPerWeight)),
            ])),
            ("metadata", .object(m.metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ]
        if let g = m.graph {
            func values(_ list: [ValueInfo]) -> JSON {
                .array(list.map { v in
                    .object([
                        ("name", .string(v.name)),
                        ("elem_type", .string(ONNXElementType.name(v.elemType))),
                        ("shape", v.shape.map { dims in
                            .array(dims.map { d -> JSON in
                                switch d {
                                case .unknown: return .null
                                case .fixed(let x): return .int(Int(x))
                                case .symbolic(let s): return .string(s)
                                }
                            })
                        } ?? .null),
                    ])
                })
            }
            top.append(("graph", .object([
                ("name", .string(g.name)),
                ("nodes", .int(g.nodes.count)),
                ("op_counts", .object(g.opCounts().sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
                ("inputs", values(g.inputs)),
                ("outputs", values(g.outputs)),
                ("opsets", .array(g.opsets.map { .object([("domain", .string($0.domain)), ("version", .int(Int($0.version)))]) })),
            ])))
        } else {
            top.append(("graph", .null))
        }
        return .object(top)
    }
}
