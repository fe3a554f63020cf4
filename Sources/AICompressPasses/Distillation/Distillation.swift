import AICompressCore
import AICompressTraining
import Foundation

/// Knowledge distillation (Hinton et al.): a student learns the teacher's softened outputs,
/// α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1−α)·cross-entropy(labels), optionally
/// plus β·MSE between intermediate values, through a learned linear projection where the widths
/// differ. The result carries the student's graph and the provenance of the run.
///
/// ```swift
/// var kd = Distillation(student: .mlp(hidden: [64, 32]))
/// kd.training.epochs = 40
/// let (student, report) = try kd.run(teacher: teacher, data: rows)
/// ```
public struct Distillation: Sendable {
    /// Where the student comes from.
    public enum Student: Sendable {
        /// A given model, with the teacher's input and number of classes.
        case model(Model)
        /// An MLP with these hidden widths (`mlpStudent`), initialized from the training seed.
        case mlp(hidden: [Int])
        /// The teacher cut by structured channel pruning, keeping this fraction (L2 norm) of
        /// each hidden layer's channels.
        case shrink(keep: Double)
    }

    /// A student value matched to a teacher value by MSE.
    public struct FeaturePair: Sendable, Equatable, CustomStringConvertible {
        /// The student's graph value.
        public var student: String
        /// The teacher's graph value.
        public var teacher: String
        /// A pair of graph value names.
        public init(student: String, teacher: String) {
            self.student = student
            self.teacher = teacher
        }
        /// `STUDENT=TEACHER`, as provenance records it.
        public var description: String { "\(student)=\(teacher)" }
    }

    /// Data-free distillation: train on synthesized inputs instead of the data's rows.
    public struct Synthesis: Sendable, Equatable {
        /// Rows to synthesize.
        public var rows: Int
        /// Every feature drawn uniformly from this range; nil: each feature's range in the data.
        public var range: ClosedRange<Float>?
        /// `rows` inputs within `range` (or the data's per-feature ranges).
        public init(rows: Int, range: ClosedRange<Float>? = nil) {
            self.rows = rows
            self.range = range
        }
    }

    /// What is known about the inputs' files, recorded in the output's provenance.
    public struct Sources: Sendable, Equatable {
        /// SHA-256 (hex) of the teacher's file.
        public var teacherSHA256: String?
        /// SHA-256 (hex) of the data file.
        public var dataSHA256: String?
        /// SHA-256 (hex) of the student's file, for a given student.
        public var studentSHA256: String?
        /// Any of the three, nil ones left out of the provenance.
        public init(teacherSHA256: String? = nil, dataSHA256: String? = nil, studentSHA256: String? = nil) {
            self.teacherSHA256 = teacherSHA256
            self.dataSHA256 = dataSHA256
            self.studentSHA256 = studentSHA256
        }
    }

    /// What happens during a run, for progress output.
    public enum Event: Sendable {
        /// The data has no labels (or they are synthesized away): α is taken as 1.
        case noLabels
        /// One epoch finished.
        case epoch(EpochLog)
    }

    /// Mixed into the training seed for synthesized inputs, so that they are not drawn from the
    /// stream that also gives the MLP student's initial weights.
    public static let synthesisSeedSalt: UInt64 = 0xDA7A
    /// Mixed into the training seed for the feature projections' initial weights, for the same reason.
    public static let projectionSeedSalt: UInt64 = 0x9E37

    /// The student to train.
    public var student: Student
    /// Softmax temperature T of the distillation term.
    public var temperature: Double = 4
    /// Weight α of the distillation term; 1 − α goes to the labels.
    public var alpha: Double = 0.9
    /// Intermediate values to match by MSE.
    public var features: [FeaturePair] = []
    /// Weight of the feature term.
    public var featureWeight: Double = 1
    /// Train on synthesized inputs (labels of the data are then ignored).
    public var synthesis: Synthesis?
    /// Optimizer, schedule, epochs, seed.
    public var training = TrainingOptions()
    /// File facts recorded in provenance.
    public var sources = Sources()

    /// A distillation into `student` with the default temperature (4), α (0.9) and training options.
    public init(student: Student) { self.student = student }

    /// Whether a run on `data` uses its labels (false: only the teacher's outputs are targets).
    public func usesLabels(of data: Dataset) -> Bool { synthesis == nil && data.targets != nil }

    /// Checks the parameters (the CLI checks its flags first, with flag names).
    /// - Throws: `DistillationError.invalidParameter`.
    public func validate() throws(DistillationError) {
        func bad(_ name: String, _ reason: String) -> DistillationError { .invalidParameter(name: name, reason: reason) }
        guard temperature > 0 && temperature.isFinite else { throw bad("temperature", "must be positive") }
        guard alpha >= 0 && alpha <= 1 else { throw bad("alpha", "must be between 0 and 1") }
        guard featureWeight >= 0 && featureWeight.isFinite else { throw bad("featureWeight", "must not be negative") }
        switch student {
        case .model: break
        case .mlp(let hidden):
            guard !hidden.isEmpty, hidden.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else { throw bad("hidden", "must be positive widths") }
        case .shrink(let keep):
            guard keep > 0 && keep <= 1 else { throw bad("keep", "must be in (0, 1]") }
        }
        if let s = synthesis {
            guard s.rows >= 1 else { throw bad("synthesis.rows", "must be at least 1") }
            if let r = s.range, !(r.lowerBound < r.upperBound && r.lowerBound.isFinite && r.upperBound.isFinite) {
                throw bad("synthesis.range", "must be finite with LO < HI")
            }
        }
    }

    /// Distills `teacher` (a classifier with a graph) into the student on `data` (rows of the
    /// teacher's input width), validating on `validation`.
    /// - Parameters:
    ///   - dataName: names the data in label errors (a file path, say).
    ///   - events: called when labels are missing and after every epoch.
    /// - Returns: the trained student (projections removed, provenance stamped) and a report.
    /// A teacher whose output is probabilities (a Softmax with no pre-softmax value in the
    /// graph, skl2onnx's LinearClassifier + Normalizer, or rows in [0, 1] summing to 1) is
    /// followed through log p, clamped (`ProbabilityLogits`).
    /// - Throws: `DistillationError`, `ValidationSplitError`, `PassError` (shrinking), `ModelError`.
    public func run(teacher: Model, data: Dataset, dataName: String = "the data", validation: ValidationData = .none,
                    events: (Event) -> Void = { _ in }) throws -> (Model, DistillationReport) {
        try validate()
        let teacherTask = try Self.attributed(DistillationError.teacher) { try ModelTask(network: try Network(model: teacher)) }
        let classes = try Self.classes(of: teacherTask)
        guard let teacherLogits = teacherTask.logitsValue else { throw DistillationError.teacherNotClassifier }
        if data.namedInputs == nil, let refusal = teacherTask.tableRefusal { throw DistillationError.teacher(refusal) }
        if synthesis != nil, let named = data.namedInputs {
            throw DistillationError.invalidParameter(name: "synthesis", reason: "draws rows of a feature table; \(named.source) feeds the inputs by name")
        }
        let all = synthesis.map { synthesized($0, like: data) } ?? data

        let (studentModel, studentKind) = try makeStudent(teacher: teacher, teacherTask: teacherTask, classes: classes)
        let plainStudent = try Self.attributed(DistillationError.student) { try ModelTask(network: try Network(model: studentModel)) }
        guard plainStudent.featureCount == teacherTask.featureCount else {
            throw DistillationError.studentInputMismatch(student: plainStudent.featureCount, teacher: teacherTask.featureCount)
        }
        guard try Self.attributed(DistillationError.student, { try plainStudent.scoreColumns() }) == classes,
              let studentLogits = plainStudent.logitsValue else {
            throw DistillationError.studentOutputMismatch(classes: classes)
        }

        let (trainSet, valSet) = try validation.split(all, seed: training.seed)
        func labels(_ d: Dataset, _ file: String, validation: Bool) throws -> [Int]? {
            guard let t = d.targets else { return nil }
            return try Self.attributed({ DistillationError.labels($0, validation: validation) }) {
                try teacherTask.classIndices(t, classes: classes, file: file)
            }
        }
        let trainLabels = synthesis == nil ? try labels(trainSet, dataName, validation: false) : nil
        if trainLabels == nil && alpha < 1 { events(.noLabels) }

        // teacher targets, and feature pairs through projections
        let teacherNames = [teacherLogits] + features.map(\.teacher)
        let targets = try Self.attributed(DistillationError.teacher) {
            try Self.teacherValues(teacherTask, data: trainSet, names: teacherNames)
        }
        func target(_ name: String) throws -> (values: [Float], perRow: Int) {
            guard let t = targets[name] else { throw DistillationError.teacher(.missingValue(name)) }
            return t
        }
        // a teacher giving probabilities is followed through log p: softmax(log p / T) is the
        // softened distribution its logits would give, where p itself as logits is near uniform
        let teacherScores = try target(teacherLogits)
        let teacherProbabilities = teacherTask.logitsValueIsProbabilities
            || ProbabilityLogits.areProbabilities(teacherScores.values, perRow: classes)
        func teacherLogitValues(_ v: [Float]) -> [Float] { teacherProbabilities ? ProbabilityLogits.logits(v) : v }
        let (studentForTraining, featureTargets) = try projected(studentModel, plainStudent, trainSet: trainSet, target: target)
        var task = try Self.attributed(DistillationError.student) { try ModelTask(network: try Network(model: studentForTraining)) }
        do { try task.checkGradientPath() } catch { throw DistillationError.studentHasNoGradient(error) }
        let readout = StudentReadout(value: studentLogits, classes: classes,
                                     probabilities: try Self.attributed(DistillationError.student) { try plainStudent.logitsAreProbabilities(on: trainSet) })
        let trainObjective = objective(readout, teacherLogits: teacherLogitValues(teacherScores.values),
                                       labels: trainLabels, features: featureTargets)
        var validationObjective: (Dataset, Objective)? = nil
        var accuracy: ((ModelTask) throws -> Double)? = nil
        if let v = valSet {
            let vt = try Self.attributed(DistillationError.teacher) {
                try Self.teacherValues(teacherTask, data: v, names: [teacherLogits])
            }
            guard let vLogits = vt[teacherLogits] else { throw DistillationError.teacher(.missingValue(teacherLogits)) }
            let vl = try labels(v, validation.name(trainingData: dataName), validation: true)
            validationObjective = (v, objective(readout, teacherLogits: teacherLogitValues(vLogits.values), labels: vl))
            if let vl {
                // a student without class labels of its own predicts indices in the teacher's order
                accuracy = { t in
                    let truth = t.classLabels == nil ? vl.map(Double.init) : v.targets ?? []
                    return ClassificationMetrics(truth: truth, predicted: try t.predict(v).values).accuracy
                }
            }
        }

        let started = Date()
        let result: TrainingResult
        do {
            result = try Self.attributed(DistillationError.student) {
                try Trainer.fit(&task, train: trainSet, objective: trainObjective, validation: validationObjective, accuracy: accuracy,
                                options: training) { events(.epoch($0)) }
            }
        } catch let e as GradientError {
            throw DistillationError.studentHasNoGradient(e)
        }
        let seconds = Date().timeIntervalSince(started)
        var trained = try Self.strippingProjections(try task.network.updating(studentForTraining))
        stamp(&trained.metadata, studentKind: studentKind, usedLabels: trainLabels != nil, rows: trainSet.rows,
              teacherProbabilities: teacherProbabilities)
        let teacherParameters = teacherTask.network.parameterCount
            + teacherTask.network.constants.values.filter(\.isFloat).reduce(0) { $0 + $1.count }
        let report = DistillationReport(training: result, seconds: seconds, teacherParameters: teacherParameters,
                                        studentParameters: trained.parameterCount, rows: trainSet.rows, usedLabels: trainLabels != nil,
                                        teacherGaveProbabilities: teacherProbabilities)
        return (trained, report)
    }

    /// The number of classes of a teacher: its score columns, which must be several.
    /// - Throws: `DistillationError.teacherNotClassifier`, or `.teacher` when it cannot run.
    public static func classes(of teacher: ModelTask) throws(DistillationError) -> Int {
        let classes: Int
        do { classes = try teacher.scoreColumns() } catch { throw .teacher(error) }
        guard classes > 1, teacher.logitsValue != nil else { throw .teacherNotClassifier }
        return classes
    }

    /// `synthesis.rows` inputs drawn uniformly from the range (or each feature's range in `data`).
    func synthesized(_ synthesis: Synthesis, like data: Dataset) -> Dataset {
        let width = data.featureCount
        var lo = [Float](repeating: .infinity, count: width), hi = [Float](repeating: -.infinity, count: width)
        if let r = synthesis.range {
            lo = [Float](repeating: r.lowerBound, count: width)
            hi = [Float](repeating: r.upperBound, count: width)
        } else {
            for r in 0..<data.rows { for c in 0..<width {
                let v = data.features[r * width + c]
                lo[c] = min(lo[c], v)
                hi[c] = max(hi[c], v)
            } }
        }
        var rng = SplitMix64(seed: training.seed ^ Self.synthesisSeedSalt)
        var f = [Float]()
        f.reserveCapacity(synthesis.rows * width)
        for _ in 0..<synthesis.rows { for c in 0..<width { f.append(lo[c] + Float(rng.unit()) * (hi[c] - lo[c])) } }
        return Dataset(featureNames: data.featureNames, features: f, rows: synthesis.rows)
    }

    /// The untrained student and the words provenance records about it.
    func makeStudent(teacher: Model, teacherTask: ModelTask, classes: Int) throws -> (Model, String) {
        switch student {
        case .model(let m):
            return (m, sources.studentSHA256.map { "student.sha256=" + $0 } ?? "student=given")
        case .mlp(let hidden):
            let m = try Self.mlpStudent(inputName: teacherTask.inputName, rowShape: teacherTask.rowShape, hidden: hidden,
                                        outputs: classes, seed: training.seed)
            return (m, "student=mlp hidden=" + hidden.map(String.init).joined(separator: ","))
        case .shrink(let keep):
            var (m, _) = try Prune(method: .channels(keep: keep, norm: .l2)).apply(teacher)
            m.metadata = [:]
            return (m, "student=shrink keep=\(keep)")
        }
    }

    /// The student with a projection per feature pair, and the targets the feature loss compares with.
    func projected(_ studentModel: Model, _ plainStudent: ModelTask, trainSet: Dataset,
                   target: (String) throws -> (values: [Float], perRow: Int)) throws -> (Model, [FeatureTarget]) {
        guard !features.isEmpty else { return (studentModel, []) }
        guard trainSet.rows > 0 else { throw DistillationError.noTrainingRows }
        let env = try Self.attributed(DistillationError.student) {
            try plainStudent.network.forward(try plainStudent.feeds(trainSet.subset([0]), rows: [0]))
        }
        var sw = [Int](), tw = [Int]()
        for p in features {
            guard let v = env[p.student], v.isFloat else { throw DistillationError.studentHasNoValue(p.student) }
            sw.append(v.count)
            tw.append(try target(p.teacher).perRow)
        }
        let model = try Self.addingProjections(studentModel, pairs: features, studentWidths: sw, teacherWidths: tw,
                                               seed: training.seed)
        let targets = try features.enumerated().map { i, p in
            FeatureTarget(projected: Self.projectionName(i) + ".out", teacher: try target(p.teacher).values, width: tw[i])
        }
        return (model, targets)
    }

    /// The provenance of spec §4.2 for a distilled student: the tool version, the teacher's and
    /// the data's SHA-256 and one `distill …` step with every setting and the seed.
    func stamp(_ metadata: inout [String: String], studentKind: String, usedLabels: Bool, rows: Int,
               teacherProbabilities: Bool = false) {
        var words = ["distill"]
        if let t = sources.teacherSHA256 { words.append("teacher.sha256=\(t)") }
        if let d = sources.dataSHA256 { words.append("data.sha256=\(d)") }
        words += [studentKind, "temperature=\(temperature)", "alpha=\(usedLabels ? alpha : 1)"]
        if teacherProbabilities { words.append("teacher_logits=log_probabilities") }
        if !features.isEmpty {
            words += ["features=\(features.map(\.description).joined(separator: ","))", "feature_weight=\(featureWeight)"]
        }
        if let s = synthesis {
            words.append("data_free=\(s.rows)")
            words.append("range=" + (s.range.map { "\($0.lowerBound),\($0.upperBound)" } ?? "per-feature-from-data"))
        }
        words += [training.summary, "rows=\(rows)"]
        var extra: [(String, String)] = []
        if let t = sources.teacherSHA256 { extra.append(("aicompress.teacher.sha256", t)) }
        if let d = sources.dataSHA256 { extra.append(("aicompress.data.sha256", d)) }
        Provenance.stamp(&metadata, input: nil, steps: [words.joined(separator: " ")], extra: extra)
    }

    /// Runs `body`, wrapping an execution error with the model (or data) it concerns.
    static func attributed<T>(_ wrap: (ExecutionError) -> DistillationError, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ExecutionError { throw wrap(e) }
    }
}
