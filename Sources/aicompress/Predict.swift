import AICompressCore
import AICompressFormats
import AICompressTraining
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress predict MODEL --data X.csv`: the model's raw outputs, one row per data row.
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "predict",
            abstract: "Run a model on data and print its outputs as CSV.",
            discussion: """
                Writes one CSV row per data row: the columns of the chosen output flattened (all \
                outputs by default), values printed so they read back exactly, batch by batch as \
                they are computed. A label column in the data is ignored when the model takes one \
                feature fewer. A model with several inputs (input_ids, attention_mask …) takes an \
                .npz with one array per input name, or one --input NAME=FILE.npy per input; \
                integer inputs are fed as exact integers. An .npz array of labels (--label, \
                default label) that is not a model input is ignored.

                Examples:
                  aicompress predict model.onnx --data test.csv > scores.csv
                  aicompress predict model.onnx --data x.npy --output label -f labels.csv
                  aicompress predict bert.onnx --data tokens.npz --output sentence_embedding
                  aicompress predict bert.onnx --input input_ids=ids.npy --input attention_mask=mask.npy
                """
        )

        @Argument(help: "Model file (with a graph), or - for standard input.")
        var model: String

        @Option(help: "Data: a CSV file with a header row, a .npy array of features (rows first), or an .npz of one array per model input; - for standard input.")
        var data: String?

        @Option(name: .customLong("input"), help: ArgumentHelp("NAME=FILE.npy: the array for model input NAME (repeatable, instead of --data).", valueName: "name=file"))
        var inputs: [String] = []

        @OptionGroup var reading: DataReadingOptions

        @Option(name: .customLong("output"), help: "Graph output to print (repeatable; default: every output).")
        var outputs: [String] = []

        @Option(help: "Rows per forward pass.")
        var batchSize = 256

        @Option(name: .shortAndLong, help: "Write the CSV here instead of standard output.")
        var file: String?

        func validate() throws {
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
            guard (data == nil) != inputs.isEmpty else { throw ValidationError("give --data or --input NAME=FILE.npy (not both)") }
            for i in inputs where !i.contains("=") { throw ValidationError("--input '\(i)' must be NAME=FILE.npy") }
        }

        func run() throws {
            let loaded = try ModelIO.read(path: model)
            let network = try withModel(model) { try Network(model: loaded.model) }
            let outs = network.graph.outputs.map(\.name)
            let names = outputs.isEmpty ? outs : outputs
            for n in names where !outs.contains(n) {
                throw ValidationError("the model has no output '\(n)' (outputs: \(outs.joined(separator: ", ")))")
            }
            let strings = try withModel(model) { try network.stringLabels() }
            let stringElement: Int32 = 8  // ONNX TensorProto.STRING
            for o in network.graph.outputs where names.contains(o.name) && o.elemType == stringElement && strings[o.name] == nil {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(model): output '\(o.name)' is a string tensor that is not a class label")
            }
            let sink = try OutputFile(path: file ?? "-")
            do {
                let writer = PredictionWriter(outputs: names, strings: strings, sink: sink)
                if let arrays = try namedArrays() {
                    // an .npz that `train` takes holds its labels too: not an input, so not fed
                    let label = reading.label ?? Dataset.defaultLabelArray
                    let list = network.feedInputs.contains { $0.name == label } ? arrays.list : arrays.list.filter { $0.name != label }
                    let feeds = try withModel(model) { try GraphFeeds(list, network: network, source: arrays.source) }
                    try forEachBatch(rows: feeds.rows) { range in
                        try writer.write(try withModel(model) { try network.predict(feeds.batch(range), outputs: names) }, rows: range.count)
                    }
                } else {
                    let task = try withModel(model) { try ModelTask(network: network) }
                    let (ds, _, _) = try reading.load(data ?? "-", expectedFeatures: task.featureCount, sha256: false, textLabels: true)
                    try forEachBatch(rows: ds.rows) { range in
                        let x = try withModel(model) { try task.batch(ds, rows: Array(range)) }
                        try writer.write(try withModel(model) { try network.predict([task.inputName: x], outputs: names) }, rows: range.count)
                    }
                }
                try sink.commit()
            } catch {
                sink.abort()
                throw error
            }
        }

        /// Batches of `batchSize` rows (one empty batch for no rows, so the header is written).
        func forEachBatch(rows: Int, _ body: (Range<Int>) throws -> Void) throws {
            var start = 0
            repeat {
                try body(start..<min(start + batchSize, rows))
                start += batchSize
            } while start < rows
        }

        /// The arrays of an .npz --data or of the --input files, or nil for a table.
        func namedArrays() throws -> (list: [(name: String, array: NDArray)], source: String)? {
            if !inputs.isEmpty {
                var list = [(name: String, array: NDArray)]()
                for spec in inputs {
                    let name = String(spec.prefix { $0 != "=" }), path = String(spec.drop { $0 != "=" }.dropFirst())
                    let f = try InputFile(path: path)
                    list.append((name, try f.buffer.withUnsafeBytes { try NPY.array($0, file: path) }))
                }
                return (list, inputs.joined(separator: " "))
            }
            guard let path = data else { return nil }
            let f = try InputFile(path: path)
            return try f.buffer.withUnsafeBytes { b in NPZ.sniff(b) ? (try NPZ.read(b, file: path), path) : nil }
        }
    }
}

/// Writes predict's CSV: the header from the first batch, then each batch's rows as they come.
final class PredictionWriter {
    let outputs: [String]
    /// The strings of outputs computed as string indices (text class labels), printed by name.
    let strings: [String: [String]]
    let sink: OutputFile
    /// Values per row of each output, fixed by the first batch.
    var perRow: [Int]? = nil

    init(outputs: [String], strings: [String: [String]] = [:], sink: OutputFile) {
        self.outputs = outputs
        self.strings = strings
        self.sink = sink
    }

    /// A CSV field for `s`: quoted (RFC 4180) when it holds a comma, quote or line break, or
    /// has blanks at its ends (which the reader would trim).
    static func field(_ s: String) -> String {
        let special = s.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
        guard special || s.first?.isWhitespace == true || s.last?.isWhitespace == true || s.isEmpty else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func write(_ values: [String: NDArray], rows: Int) throws {
        var cols = [NDArray]()
        var per = [Int]()
        for n in outputs {
            guard let v = values[n] else { throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(ExecutionError.missingValue(n))") }
            let k = rows == 0 ? 0 : v.count / rows
            if rows > 0, v.rank == 0 || v.shape[0] != rows || (perRow.map { $0[cols.count] != k } ?? false) {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: "output '\(n)' has shape \(v.shape) for \(rows) rows: predict prints outputs with one entry per row")
            }
            cols.append(v)
            per.append(k)
        }
        var text = ""
        if perRow == nil {
            perRow = per
            var header = [String]()
            for (n, k) in zip(outputs, per) { header += k == 1 ? [n] : (0..<k).map { "\(n)_\($0)" } }
            text = header.joined(separator: ",") + "\n"
        }
        let names = outputs.map { strings[$0] }
        for r in 0..<rows {
            var cells = [String]()
            for ((v, k), text) in zip(zip(cols, per), names) {
                for j in 0..<k {
                    if let text, !v.isFloat {
                        let i = v.ints[r * k + j]
                        guard i >= 0, i < text.count else { throw ExitStatus.Failure(code: ExitStatus.dataError, message: "string index \(i) is out of range for \(text.count) strings") }
                        cells.append(Self.field(text[Int(i)]))
                    } else {
                        cells.append(v.isFloat ? "\(v.floats[r * k + j])" : "\(v.ints[r * k + j])")
                    }
                }
            }
            text += cells.joined(separator: ",") + "\n"
        }
        try Array(text.utf8).withUnsafeBytes { try sink.write($0) }
    }
}
