import AICompressCore
import AICompressFormats
import AICompressPasses
import AICompressTraining
import ArgumentParser
import Foundation

/// `aicompress distill --teacher T --data train.csv OUT`: trains a small student from a teacher.
struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small student model to imitate a teacher (knowledge distillation).",
        discussion: """
            The student is given (--student S), built as an MLP with the teacher's input and \
            number of classes (--hidden 64,32), or cut from the teacher by structured pruning \
            (--shrink 0.25 keeps a quarter of each hidden layer's channels). It is trained on \
            α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1−α)·cross-entropy(labels); \
            without a label column only the teacher's outputs are targets. --feature S=T adds \
            MSE between the student value S and the teacher value T (through a learned linear \
            projection, dropped afterwards, where their widths differ).

            --data-free N trains on N inputs drawn uniformly within each feature's range seen in \
            --data (labels there are ignored) or within --input-range LO,HI. That transfers what \
            the teacher does on such inputs only: on image-like data it typically reaches far \
            less than distillation on real inputs — measure with `evaluate`.

            The output keeps the student's graph (export to .onnx runs in onnxruntime) and \
            records the teacher's and the data's SHA-256, the hyperparameters and the seed. Same \
            inputs and --seed give the same student, bit for bit.

            Examples:
              aicompress distill --teacher big.onnx --data train.csv --hidden 64,32 student.ckpt
              aicompress distill --teacher big.ckpt --data train.csv --val val.csv --shrink 0.25 --epochs 60 small.onnx
              aicompress distill --teacher big.ckpt --data train.csv --student pruned.ckpt --alpha 0.5 --temperature 2 out.ckpt
              aicompress distill --teacher big.onnx --data unlabelled.csv --data-free 20000 --hidden 32 out.ckpt
            """
    )

    @Option(help: "Teacher model (with a graph; a classifier).")
    var teacher: String

    @Argument(help: "Output file for the student, or - for standard output.")
    var output: String

    @OptionGroup var data: DataOptions
    @OptionGroup var training: TrainingOptionGroup
    @OptionGroup var out: OutputOptions

    @Option(help: "Student model to train (same input and classes as the teacher).")
    var student: String?

    @Option(help: "Build an MLP student with these hidden widths, e.g. 64,32.")
    var hidden: String?

    @Option(help: "Make the student from the teacher by keeping this fraction of each hidden layer's channels (L2 norm).")
    var shrink: Double?

    @Option(help: "Softmax temperature T of the distillation term.")
    var temperature: Double = 4

    @Option(help: "Weight α of the distillation term (1 − α goes to the labels).")
    var alpha: Double = 0.9

    @Option(help: "Match a student value to a teacher value by MSE: STUDENT=TEACHER (repeatable).")
    var feature: [String] = []

    @Option(help: "Weight of the feature term.")
    var featureWeight: Double = 1

    @Option(help: "Train on this many synthesized inputs instead of the data's rows.")
    var dataFree: Int?

    @Option(help: "Range of synthesized inputs, LO,HI (default: each feature's range in --data).")
    var inputRange: String?

    func validate() throws {
        try out.check(output: output)
        let kinds = [student != nil, hidden != nil, shrink != nil].filter { $0 }.count
        guard kinds == 1 else { throw ValidationError("give exactly one of --student, --hidden, --shrink") }
        if let h = hidden, parsedHidden(h) == nil { throw ValidationError("--hidden must be positive widths, e.g. 64,32") }
        if let s = shrink, !(s > 0 && s <= 1) { throw ValidationError("--shrink must be in (0, 1]") }
        guard temperature > 0 && temperature.isFinite else { throw ValidationError("--temperature must be positive") }
        guard alpha >= 0 && alpha <= 1 else { throw ValidationError("--alpha must be between 0 and 1") }
        guard featureWeight >= 0 else { throw ValidationError("--feature-weight must not be negative") }
        if let n = dataFree, !(1...10_000_000).contains(n) { throw ValidationError("--data-free must be between 1 and 10000000") }
        if inputRange != nil && dataFree == nil { throw ValidationError("--input-range goes with --data-free") }
        if let r = inputRange, parsedRange(r) == nil { throw ValidationError("--input-range must be LO,HI with LO < HI") }
        for f in feature where f.split(separator: "=").count != 2 { throw ValidationError("--feature takes STUDENT=TEACHER, got '\(f)'") }
    }

    func parsedHidden(_ s: String) -> [Int]? {
        let parts = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 && $0! <= 1 << 16 }) else { return nil }
        return parts.map { $0! }
    }

    func parsedRange(_ s: String) -> (Float, Float)? {
        let p = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard p.count == 2, p[0] < p[1], p.allSatisfy(\.isFinite) else { return nil }
        return (p[0], p[1])
    }

    func fail(_ m: String) -> ExitStatus.Failure { ExitStatus.Failure(code: ExitStatus.dataError, message: m) }

    func run() throws {
        let (teacherLoaded, teacherTask) = try loadTask(teacher)
        let classes = try withModel(teacher) { try teacherTask.scoreColumns() }
        guard classes > 1, let teacherLogits = teacherTask.logitsValue else {
            throw fail("\(teacher): the teacher must be a classifier with several output columns")
        }
        let teacherSHA = teacherLoaded.input.buffer.withUnsafeBytes { SHA256.hex($0) }

        // data: real rows, or synthesized ones
        var (all, _, dataSHA) = try data.loadHashed(data.data, expectedFeatures: teacherTask.featureCount)
        if let m = all.missingSummary, !training.quiet { FileHandleOutput.stderr(m + "\n") }
        var synthesis = ""
        if let n = dataFree {
            let (lo, hi): ([Float], [Float])
            if let r = inputRange.flatMap(parsedRange) {
                lo = [Float](repeating: r.0, count: all.featureCount)
                hi = [Float](repeating: r.1, count: all.featureCount)
                synthesis = " data_free=\(n) range=\(r.0),\(r.1)"
            } else {
                var l = [Float](repeating: .infinity, count: all.featureCount), h = [Float](repeating: -.infinity, count: all.featureCount)
                for r in 0..<all.rows { for c in 0..<all.featureCount {
                    let v = all.features[r * all.featureCount + c]
                    l[c] = min(l[c], v)
                    h[c] = max(h[c], v)
                } }
                lo = l
                hi = h
                synthesis = " data_free=\(n) range=per-feature-from-data"
            }
            var rng = SplitMix64(seed: training.seed ^ 0xDA7A)
            var f = [Float]()
            f.reserveCapacity(n * all.featureCount)
            for _ in 0..<n { for c in 0..<all.featureCount { f.append(lo[c] + Float(rng.unit()) * (hi[c] - lo[c])) } }
            all = Dataset(featureNames: all.featureNames, features: f, rows: n)
        }

        // the student
        var studentModel: Model
        var studentKind: String
        if let s = student {
            let loaded = try ModelIO.read(path: s)
            studentModel = loaded.model
            studentKind = "student.sha256=" + loaded.input.buffer.withUnsafeBytes { SHA256.hex($0) }
        } else if let h = hidden.flatMap(parsedHidden) {
            studentModel = try Distillation.mlpStudent(inputName: teacherTask.inputName, rowShape: teacherTask.rowShape, hidden: h,
                                                       outputs: classes, seed: training.seed)
            studentKind = "student=mlp hidden=" + h.map(String.init).joined(separator: ",")
        } else {
            let keep = shrink!
            (studentModel, _) = try Prune(method: .channels(keep: keep, norm: .l2)).apply(teacherLoaded.model)
            studentModel.metadata = [:]
            studentKind = "student=shrink keep=\(keep)"
        }
        let plainStudent = try withModel(student ?? teacher) { try ModelTask(network: try Network(model: studentModel)) }
        guard plainStudent.featureCount == teacherTask.featureCount else {
            throw fail("the student takes \(plainStudent.featureCount) features per row, the teacher \(teacherTask.featureCount)")
        }
        guard try withModel(student ?? teacher, { try plainStudent.scoreColumns() }) == classes,
              let studentLogits = plainStudent.logitsValue else {
            throw fail("the student must give \(classes) scores per row, as the teacher does")
        }

        // validation rows and labels
        let (trainSet, valSet) = try training.validationSplit(all, data: data, expectedFeatures: teacherTask.featureCount)
        func labels(_ d: Dataset, _ file: String) throws -> [Int]? {
            guard let t = d.targets else { return nil }
            return try withModel(file) { try teacherTask.classIndices(t, classes: classes, file: file) }
        }
        let trainLabels = dataFree == nil ? try labels(trainSet, data.data) : nil
        if trainLabels == nil && alpha < 1 && !training.quiet {
            FileHandleOutput.stderr("no labels: the teacher's outputs are the only targets (alpha = 1)\n")
        }

        // teacher targets, and feature pairs through projections
        let pairs = feature.map { f -> (student: String, teacher: String) in
            let p = f.split(separator: "=").map(String.init)
            return (p[0], p[1])
        }
        let teacherNames = [teacherLogits] + pairs.map(\.teacher)
        let targets = try withModel(teacher) { try Distillation.teacherValues(teacherTask, data: trainSet, names: teacherNames) }
        var studentForTraining = studentModel
        var features: [(projected: String, teacher: [Float], width: Int)] = []
        if !pairs.isEmpty {
            let probe = trainSet.subset([0])
            let env = try withModel(student ?? teacher) {
                try plainStudent.network.forward([plainStudent.inputName: try plainStudent.batch(probe, rows: [0])])
            }
            var sw = [Int](), tw = [Int]()
            for p in pairs {
                guard let v = env[p.student], v.isFloat else { throw fail("the student has no float value '\(p.student)'") }
                sw.append(v.count)
                tw.append(targets[p.teacher]!.perRow)
            }
            studentForTraining = try Distillation.addingProjections(studentModel, pairs: pairs, studentWidths: sw, teacherWidths: tw,
                                                                    seed: training.seed)
            for (i, p) in pairs.enumerated() {
                features.append((Distillation.projectionName(i) + ".out", targets[p.teacher]!.values, tw[i]))
            }
        }
        var task = try withModel(student ?? teacher) { try ModelTask(network: try Network(model: studentForTraining)) }
        var config = Distillation.Config()
        config.temperature = temperature
        config.alpha = alpha
        config.featureWeight = featureWeight
        config.featurePairs = pairs
        let objective = Distillation.objective(logitsValue: studentLogits, classes: classes, teacherLogits: targets[teacherLogits]!.values,
                                               labels: trainLabels, features: features, config: config)
        var validation: (Dataset, Objective)? = nil
        var accuracy: ((ModelTask) throws -> Double)? = nil
        if let v = valSet {
            let vt = try withModel(teacher) { try Distillation.teacherValues(teacherTask, data: v, names: [teacherLogits]) }
            let vl = try labels(v, training.val ?? data.data)
            validation = (v, Distillation.objective(logitsValue: studentLogits, classes: classes, teacherLogits: vt[teacherLogits]!.values,
                                                    labels: vl, config: config))
            if let vl {
                // a student without class labels of its own predicts indices in the teacher's order
                accuracy = { t in
                    let truth = t.classLabels == nil ? vl.map(Double.init) : v.targets ?? []
                    return ClassificationMetrics(truth: truth, predicted: try t.predict(v).values).accuracy
                }
            }
        }
        let started = Date()
        let result = try withModel(student ?? teacher) {
            try Trainer.fit(&task, train: trainSet, objective: objective, validation: validation, accuracy: accuracy,
                            options: training.options) { training.report($0, total: training.epochs) }
        }
        let seconds = Date().timeIntervalSince(started)
        var trained = try Distillation.strippingProjections(try task.network.updating(studentForTraining))
        trained.metadata["aicompress.version"] = AICompressVersion.string
        trained.metadata["aicompress.teacher.sha256"] = teacherSHA
        trained.metadata["aicompress.data.sha256"] = dataSHA
        trained.appendStep("distill teacher.sha256=\(teacherSHA) data.sha256=\(dataSHA) \(studentKind) temperature=\(temperature) "
            + "alpha=\(trainLabels == nil ? 1 : alpha)\(pairs.isEmpty ? "" : " features=\(feature.joined(separator: ",")) feature_weight=\(featureWeight)")"
            + "\(synthesis) \(training.summary) rows=\(trainSet.rows)")
        try ModelIO.write(trained, to: output, format: out.outputFormat(for: output), refusing: teacherLoaded.identities,
                          durable: out.sync, onnx: out.onnx, shardSize: out.shardSize?.bytes)
        if !training.quiet {
            let tp = teacherTask.network.parameterCount + teacherTask.network.constants.values.filter(\.isFloat).reduce(0) { $0 + $1.count }
            let sp = trained.parameterCount
            var s = "student: \(Format.count(sp)) parameters (\(Format.percent(Double(sp) / Double(max(tp, 1)))) of the teacher's \(Format.count(tp))), "
            s += "\(result.logs.count) epochs in \(String(format: "%.1f", seconds)) s"
            if let a = result.logs[max(result.bestEpoch - 1, 0)].validationAccuracy { s += ", val_acc \(Format.percent(a))" }
            FileHandleOutput.stderr(s + "\n")
        }
    }
}
