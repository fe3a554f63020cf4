import AICompressCore
import AICompressFormats
import AICompressTraining
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress evaluate MODEL --data test.csv`: accuracy, precision, recall, F1, confusion matrix;
    /// MSE/MAE/R² for regression; agreement with another model.
    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "evaluate",
            abstract: "Measure a model's accuracy (or regression error) on labelled data.",
            discussion: """
                Runs the model's graph on every row of the data (float32 on the CPU, BLAS for matrix \
                products) and compares the predictions with the label column. Classifiers (an \
                integer label output, or scores with several columns) get accuracy, precision, \
                recall and F1 per class and macro-averaged, and a confusion matrix; models with one \
                float output get MSE, MAE and R². --compare runs a second model (say, the \
                uncompressed original) on the same rows and reports how often the two agree and \
                the change in accuracy. The --json schema is aicompress.evaluate/1 (spec/cli-json.md).

                Examples:
                  aicompress evaluate small.ckpt --data test.csv
                  aicompress evaluate small.ckpt --data test.csv --compare model.onnx
                  aicompress evaluate model.onnx --data x.npy --labels y.npy --json
                  aicompress evaluate model.ckpt --data test.csv --label species --missing median
                  aicompress evaluate model-q4.gguf --text wiki.txt --compare model-f16.gguf
                """
        )

        @Argument(help: "Model file (with a graph), or - for standard input.")
        var model: String

        @OptionGroup var data: OptionalDataOptions

        @Option(help: "A second model to run on the same rows: reports agreement and the accuracy change.")
        var compare: String?

        @Option(help: "Rows per forward pass.")
        var batchSize = 256

        @Flag(help: "Print JSON (schema aicompress.evaluate/1; aicompress.evaluate-text/1 with --text).")
        var json = false

        @OptionGroup var text: TextEvaluationOptions

        func validate() throws {
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        }

        struct Result {
            var path: String
            var predictions: ModelTask.Predictions
            var classification: ClassificationMetrics?
            var regression: RegressionMetrics?
            /// Class names by code, when the classes are text.
            var names: [String]? = nil
        }

        /// Runs `task` on `data` and measures it; text classes are coded in `space` (shared by
        /// the models compared on the same data).
        static func evaluate(_ path: String, task: ModelTask, data: Dataset, file: String, batchSize: Int,
                             space: inout ClassNameSpace?) throws -> Result {
            var p = try withModel(path) { try task.predict(data, batchSize: batchSize) }
            guard var truth = data.targets else {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: "the data has no label column to evaluate against")
            }
            try ClassNameSpace.check(model: path, task: task, isClassification: p.isClassification, data: data, file: file)
            if let modelNames = task.classNames, let dataNames = data.targetNames {
                var s = space ?? ClassNameSpace(modelNames)
                truth = try s.codes(truth, within: dataNames, what: file)
                p.values = try s.codes(p.values, within: modelNames, what: path)
                space = s
                var r = Result(path: path, predictions: p, classification: ClassificationMetrics(truth: truth, predicted: p.values))
                r.names = s.names
                return r
            }
            if p.isClassification {
                return Result(path: path, predictions: p, classification: ClassificationMetrics(truth: truth, predicted: p.values))
            }
            return Result(path: path, predictions: p, regression: RegressionMetrics(truth: truth, predicted: p.values))
        }

        func run() throws {
            if let file = text.text { return try runText(file) }
            let (_, task) = try loadTask(model)
            guard let file = data.file else { throw ValidationError("Missing expected argument '--data <data>' (or --text for a GGUF language model)") }
            let (ds, _, _) = try data.reading.load(file, expectedFeatures: task.tableRefusal == nil ? task.featureCount : nil, sha256: false, textLabels: true)
            var space: ClassNameSpace? = nil
            var result = try Evaluate.evaluate(model, task: task, data: ds, file: file, batchSize: batchSize, space: &space)
            var other: Result? = nil
            if let c = compare {
                let (_, t2) = try loadTask(c)
                guard t2.featureCount == task.featureCount else {
                    throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(c): takes \(t2.featureCount) features per row, \(model) takes \(task.featureCount)")
                }
                other = try Evaluate.evaluate(c, task: t2, data: ds, file: file, batchSize: batchSize, space: &space)
                // the second model may have added names: both reports print the same space
                result.names = space?.names
                other?.names = space?.names
            }
            if json {
                try FileHandleOutput.stdout(jsonReport(result, ds, other).rendered() + "\n")
            } else {
                try FileHandleOutput.stdout(textReport(result, ds, other))
            }
        }

        func agreement(_ a: Result, _ b: Result) -> Double {
            let same = zip(a.predictions.values, b.predictions.values).filter { $0 == $1 }.count
            return a.predictions.values.isEmpty ? 0 : Double(same) / Double(a.predictions.values.count)
        }

        static func classLabel(_ v: Double) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        }

        /// How class `v` is printed: its name when the classes are text.
        static func classLabel(_ v: Double, names: [String]?) -> String {
            guard let n = names, v >= 0, Int(v) < n.count else { return classLabel(v) }
            return n[Int(v)]
        }

        func textReport(_ r: Result, _ ds: Dataset, _ other: Result?) -> String {
            var s = "\(model) on \(data.data): \(Format.count(ds.rows)) rows, \(ds.featureCount) features, label '\(ds.labelName ?? "?")'\n"
            if let m = ds.missingSummary { s += m + "\n" }
            if let c = r.classification {
                s += "\naccuracy  \(Format.percent(c.accuracy)) (\(c.correct)/\(c.samples))\n"
                s += "macro     precision \(String(format: "%.4f", c.macroPrecision))  recall \(String(format: "%.4f", c.macroRecall))  F1 \(String(format: "%.4f", c.macroF1))\n\n"
                let rows = c.classes.indices.map { i in
                    [Evaluate.classLabel(c.classes[i], names: r.names), String(format: "%.4f", c.precision(i)), String(format: "%.4f", c.recall(i)),
                     String(format: "%.4f", c.f1(i)), String(c.support(i))]
                }
                s += Format.table(header: ["class", "precision", "recall", "f1", "support"], rows: rows, rightAligned: [1, 2, 3, 4])
                s += "\nconfusion matrix (rows: true class, columns: predicted):\n"
                let head = [""] + c.classes.map { Evaluate.classLabel($0, names: r.names) }
                let body = c.classes.indices.map { i in [Evaluate.classLabel(c.classes[i], names: r.names)] + c.confusion[i].map(String.init) }
                s += Format.table(header: head, rows: body, rightAligned: Set(1...c.classes.count))
            } else if let g = r.regression {
                s += "\nMSE  \(Format.number(g.mse))\nMAE  \(Format.number(g.mae))\nR²   \(String(format: "%.6f", g.r2))\n"
            }
            if let o = other {
                s += "\ncompared with \(o.path):\n"
                s += "  predictions agree on \(Format.percent(agreement(r, o))) of rows\n"
                if let a = r.classification, let b = o.classification {
                    s += "  accuracy \(Format.percent(a.accuracy)) vs \(Format.percent(b.accuracy)): change \(String(format: "%+.2f", (a.accuracy - b.accuracy) * 100)) points\n"
                } else if let a = r.regression, let b = o.regression {
                    s += "  MSE \(Format.number(a.mse)) vs \(Format.number(b.mse))\n"
                }
            }
            return s
        }

        func jsonMetrics(_ r: Result) -> JSON {
            if let c = r.classification {
                return .object([
                    ("task", .string("classification")),
                    ("samples", .int(c.samples)),
                    ("correct", .int(c.correct)),
                    ("accuracy", .double(c.accuracy)),
                    ("macro", .object([("precision", .double(c.macroPrecision)), ("recall", .double(c.macroRecall)), ("f1", .double(c.macroF1))])),
                    ("classes", .array(c.classes.indices.map { i in
                        .object([("label", r.names == nil ? .double(c.classes[i]) : .string(Evaluate.classLabel(c.classes[i], names: r.names))), ("precision", .double(c.precision(i))), ("recall", .double(c.recall(i))),
                                 ("f1", .double(c.f1(i))), ("support", .int(c.support(i)))])
                    })),
                    ("confusion", .array(c.confusion.map { .array($0.map { .int($0) }) })),
                ])
            }
            let g = r.regression!
            return .object([("task", .string("regression")), ("samples", .int(g.samples)), ("mse", .double(g.mse)),
                            ("mae", .double(g.mae)), ("r2", .double(g.r2))])
        }

        func jsonReport(_ r: Result, _ ds: Dataset, _ other: Result?) -> JSON {
            var fields: [(String, JSON)] = [
                ("schema", .string("aicompress.evaluate/1")),
                ("model", .string(model)),
                ("data", .object([("file", .string(data.data)), ("rows", .int(ds.rows)), ("features", .int(ds.featureCount)),
                                  ("label", ds.labelName.map { .string($0) } ?? .null),
                                  ("missing", ds.missingSummary.map { .string($0) } ?? .null)])),
                ("metrics", jsonMetrics(r)),
            ]
            if let o = other {
                var cmp: [(String, JSON)] = [("model", .string(o.path)), ("agreement", .double(agreement(r, o))), ("metrics", jsonMetrics(o))]
                if let a = r.classification, let b = o.classification { cmp.append(("accuracy_change", .double(a.accuracy - b.accuracy))) }
                fields.append(("compare", .object(cmp)))
            }
            return .object(fields)
        }
    }
}
