import AICompressCore
import AICompressFormats
import AICompressTraining
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress predict MODEL --data X.csv`: the model's raw outputs, one row per data row.
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a model on data and print its outputs as CSV.",
            discussion: """
                Writes one CSV row per data row: the columns of the chosen output flattened (all \
                float outputs by default), values printed so they read back exactly. A label column \
                in the data is ignored when the model takes one feature fewer.

                Examples:
                  aicompress predict model.onnx --data test.csv > scores.csv
                  aicompress predict model.onnx --data x.npy --output label -f labels.csv
                """
        )

        @Argument(help: "Model file (with a graph), or - for standard input.")
        var model: String

        @OptionGroup var data: DataOptions

        @Option(name: .customLong("output"), help: "Graph output to print (repeatable; default: every output).")
        var outputs: [String] = []

        @Option(name: .shortAndLong, help: "Write the CSV here instead of standard output.")
        var file: String?

        func run() throws {
            let (_, task) = try loadTask(model)
            let (ds, _) = try data.load(data.data, expectedFeatures: task.featureCount)
            let names = outputs.isEmpty ? task.network.graph.outputs.map(\.name) : outputs
            for n in names where !task.network.graph.outputs.contains(where: { $0.name == n }) {
                throw ValidationError("the model has no output '\(n)' (outputs: \(task.network.graph.outputs.map(\.name).joined(separator: ", ")))")
            }
            let p = try withModel(model) { try task.predict(ds, keepOutputs: true) }
            var header = [String]()
            var cols = [(NDArray, Int)]()
            for n in names {
                guard let v = p.outputs[n] else {
                    throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(model): \(ExecutionError.missingValue(n))")
                }
                let per = ds.rows == 0 ? 0 : v.count / ds.rows
                cols.append((v, per))
                header += per == 1 ? [n] : (0..<per).map { "\(n)_\($0)" }
            }
            var text = header.joined(separator: ",") + "\n"
            for r in 0..<ds.rows {
                var cells = [String]()
                for (v, per) in cols {
                    for j in 0..<per {
                        cells.append(v.isFloat ? "\(v.floats[r * per + j])" : "\(v.ints[r * per + j])")
                    }
                }
                text += cells.joined(separator: ",") + "\n"
            }
            try FileHandleOutput.save(text, to: file ?? "-")
        }
    }
}
