import AICompressCore
import AICompressFormats
import AICompressPasses
import AICompressTraining
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress distill --teacher T --data train.csv OUT`: trains a small student from a teacher.
    struct Distill: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "distill",
            abstract: "Train a small student model to imitate a teacher (knowledge distillation).",
            discussion: """
                The student is given (--student S), built as an MLP with the teacher's input and \
                number of classes (--hidden 64,32), or cut from the teacher by structured pruning \
                (--shrink 0.25 keeps a quarter of each hidden layer's channels). It is trained on \
                α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1−α)·cross-entropy(labels); \
                without a label column only the teacher's outputs are targets. A teacher whose \
                output is probabilities (scikit-learn's, with or without ZipMap) is followed \
                through its pre-softmax value, or the log of its probabilities where the graph has \
                none. --feature S=T adds \
                MSE between the student value S and the teacher value T (through a learned linear \
                projection, dropped afterwards, where their widths differ).

                Training runs until the validation loss stops improving (10% of the rows held \
                out unless --val / --val-split, --patience 10, at most 500 epochs), keeping the \
                best epoch; --epochs N alone trains exactly N epochs. The summary says why it stopped.

                --data-free N trains on N inputs drawn uniformly within each feature's range seen in \
                --data (labels there are ignored) or within --input-range LO,HI. That transfers what \
                the teacher does on such inputs only: on image-like data it typically reaches far \
                less than distillation on real inputs — measure with `evaluate`.

                The output keeps the student's graph (export to .onnx runs in onnxruntime) and \
                records the teacher's and the data's SHA-256, the hyperparameters and the seed. Same \
                inputs and --seed give the same student, bit for bit.

                A teacher with several inputs (a transformer encoder) distils on an .npz of one \
                array per input name (plus the labels, optional), into a given --student that \
                takes the same inputs (fewer layers, say).

                Examples:
                  aicompress distill --teacher big.onnx --data train.csv --hidden 64,32 student.ckpt
                  aicompress distill --teacher big.ckpt --data train.csv --val val.csv --shrink 0.25 small.onnx
                  aicompress distill --teacher big.ckpt --data train.csv --hidden 32 --epochs 60 --lr 0.003 fixed.ckpt
                  aicompress distill --teacher big.ckpt --data train.csv --student pruned.ckpt --alpha 0.5 --temperature 2 out.ckpt
                  aicompress distill --teacher big.onnx --data unlabelled.csv --data-free 20000 --hidden 32 out.ckpt
                  aicompress distill --teacher bert.onnx --data tokens.npz --student bert-2-layers.onnx small.onnx
                """
        )

        @Option(help: "Teacher model (with a graph; a classifier).")
        var teacher: String

        @Argument(help: "Output file for the student, or - for standard output.")
        var output: String

        @OptionGroup var data: DataOptions
        @OptionGroup var training: TrainingOptionGroup
        @OptionGroup var out: OutputOptions

        @OptionGroup var studentOptions: StudentOptions

        @Option(help: "Softmax temperature T of the distillation term.")
        var temperature: Double = 4

        @Option(help: "Weight α of the distillation term (1 − α goes to the labels).")
        var alpha: Double = 0.9

        @Option(help: "Match a student value to a teacher value by MSE: STUDENT=TEACHER (repeatable).")
        var feature: [Distillation.FeaturePair] = []

        @Option(help: "Weight of the feature term.")
        var featureWeight: Double = 1

        @Option(help: "Train on this many synthesized inputs instead of the data's rows.")
        var dataFree: Int?

        @Option(help: "Range of synthesized inputs, LO,HI (default: each feature's range in --data).")
        var inputRange: InputRange?

        func validate() throws {
            try out.check(output: output)
            try studentOptions.check()
            guard temperature > 0 && temperature.isFinite else { throw ValidationError("--temperature must be positive") }
            guard alpha >= 0 && alpha <= 1 else { throw ValidationError("--alpha must be between 0 and 1") }
            guard featureWeight >= 0 else { throw ValidationError("--feature-weight must not be negative") }
            if let n = dataFree, !(1...10_000_000).contains(n) { throw ValidationError("--data-free must be between 1 and 10000000") }
            if inputRange != nil && dataFree == nil { throw ValidationError("--input-range goes with --data-free") }
            if let r = inputRange, r.range == nil { throw ValidationError("--input-range must be LO,HI with LO < HI") }
        }

        /// The distillation the flags describe; `student` is the given student model, if any.
        func distillation(student given: LoadedModel?, sources: Distillation.Sources) -> Distillation {
            var d = Distillation(student: studentOptions.kind(given: given))
            d.temperature = temperature
            d.alpha = alpha
            d.features = feature
            d.featureWeight = featureWeight
            d.synthesis = dataFree.map { Distillation.Synthesis(rows: $0, range: inputRange?.range) }
            d.training = training.options
            d.sources = sources
            return d
        }

        func run() throws {
            let teacherLoaded: LoadedModel, featureCount: Int?
            do {
                let (loaded, task) = try loadTask(teacher)
                // the teacher's own errors come before any about the data
                _ = try mappingErrors { try Distillation.classes(of: task) }
                (teacherLoaded, featureCount) = (loaded, task.tableRefusal == nil ? task.featureCount : nil)
            }
            let (all, _, dataSHA) = try data.loadHashed(data.data, expectedFeatures: featureCount)
            if let m = all.missingSummary, !training.quiet { FileHandleOutput.stderr(m + "\n") }
            let given = try studentOptions.readGiven()
            let sources = Distillation.Sources(teacherSHA256: teacherLoaded.input.buffer.withUnsafeBytes { SHA256.hex($0) },
                                               dataSHA256: dataSHA,
                                               studentSHA256: given.map { g in g.input.buffer.withUnsafeBytes { SHA256.hex($0) } })
            let validation = try training.validationData(data: data, expectedFeatures: featureCount)
            let (trained, report) = try training.mappingSplitErrors {
                try mappingErrors {
                    try distillation(student: given, sources: sources).run(teacher: teacherLoaded.model, data: all, dataName: data.data,
                                                                           validation: validation) { event in
                        switch event {
                        case .noLabels:
                            if !training.quiet { FileHandleOutput.stderr("no labels: the teacher's outputs are the only targets (alpha = 1)\n") }
                        case .epoch(let log):
                            training.report(log, total: training.epochs)
                        }
                    }
                }
            }
            try out.write(trained, to: output, refusing: teacherLoaded.identities)
            if !training.quiet {
                let tp = report.teacherParameters, sp = report.studentParameters
                var s = "student: \(Format.count(sp)) parameters (\(Format.percent(Double(sp) / Double(max(tp, 1)))) of the teacher's \(Format.count(tp))), "
                s += "\(report.training.logs.count) epochs in \(String(format: "%.1f", report.seconds)) s"
                if let a = report.validationAccuracy { s += ", val_acc \(Format.percent(a))" }
            s += "; " + training.stopSummary(report.training)
            if report.teacherGaveProbabilities { s += "; the teacher gives probabilities: followed through their log" }
                FileHandleOutput.stderr(s + "\n")
            }
        }

        /// Names the file a distillation error concerns: the teacher's, the given student's, or the data's.
        func mappingErrors<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let e as DistillationError {
                let message: String
                switch e {
                case .teacherNotClassifier: message = "\(teacher): \(e)"
                case .teacher(let x): message = "\(teacher): \(x)"
                case .student(let x): message = studentOptions.student.map { "\($0): \(x)" } ?? "\(e)"
                case .studentHasNoGradient(let x): message = "\(studentOptions.student ?? teacher): \(x)"
                case .labels(let x, let validation): message = "\(validation ? training.val ?? data.data : data.data): \(x)"
                default: message = "\(e)"
                }
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: message)
            }
        }
    }
}

/// `--input-range LO,HI`: the range of synthesized inputs (checked in `validate`).
struct InputRange: ExpressibleByArgument {
    var low: Float
    var high: Float

    init?(argument: String) {
        let p = argument.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard p.count == 2 else { return nil }
        (low, high) = (p[0], p[1])
    }

    /// The range, when finite with LO < HI.
    var range: ClosedRange<Float>? { low < high && low.isFinite && high.isFinite ? low...high : nil }
}

/// `--feature STUDENT=TEACHER`.
extension Distillation.FeaturePair: ExpressibleByArgument {
    /// Parses `STUDENT=TEACHER` (exactly one `=` between two names).
    public init?(argument: String) {
        let p = argument.split(separator: "=").map(String.init)
        guard p.count == 2 else { return nil }
        self.init(student: p[0], teacher: p[1])
    }
}
