import AICompressCore
import AICompressPasses
import AICompressTraining
import XCTest

/// A small synthetic problem: a random 4→16→3 MLP teacher, and rows whose labels are the
/// teacher's own predictions, so a student can in principle agree with it everywhere.
enum DistillationFixture {
    static let features = 4, classes = 3

    static func teacher() throws -> Model {
        try Distillation.mlpStudent(inputName: "x", rowShape: [features], hidden: [16], outputs: classes, seed: 11)
    }

    /// `rows` standard-normal rows (Box–Muller on SplitMix64), labelled by `labeller` when given.
    static func data(rows: Int, seed: UInt64, labeller: Model? = nil) throws -> Dataset {
        var rng = SplitMix64(seed: seed)
        var f = [Float]()
        for _ in 0..<(rows * features) {
            let u = max(rng.unit(), 1e-12), v = rng.unit()
            f.append(Float((-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v)))
        }
        var d = Dataset(featureNames: (0..<features).map { "f\($0)" }, features: f, rows: rows)
        if let labeller { d.targets = try predictions(labeller, d) }
        return d
    }

    /// Class index predicted for every row.
    static func predictions(_ model: Model, _ data: Dataset) throws -> [Double] {
        try ModelTask(network: try Network(model: model)).predict(data).values
    }

    /// Share of rows on which two models predict the same class.
    static func agreement(_ a: Model, _ b: Model, on data: Dataset) throws -> Double {
        let pa = try predictions(a, data), pb = try predictions(b, data)
        return Double(zip(pa, pb).filter { $0 == $1 }.count) / Double(data.rows)
    }

    static func floats(_ model: Model) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for t in model.tensors { out[t.name] = t.floatValues() }
        return out
    }
}

final class DistillationTests: XCTestCase {
    typealias F = DistillationFixture

    func distillation(_ student: Distillation.Student, epochs: Int = 30, seed: UInt64 = 1) -> Distillation {
        var d = Distillation(student: student)
        d.training.epochs = epochs
        d.training.seed = seed
        d.training.optimizer.learningRate = 0.01
        return d
    }

    /// The student learns to agree with the teacher on held-out rows, and the report says what ran.
    func testMLPStudentAgreesWithTheTeacher() throws {
        let teacher = try F.teacher()
        let train = try F.data(rows: 400, seed: 1, labeller: teacher), test = try F.data(rows: 300, seed: 2)
        let (student, report) = try distillation(.mlp(hidden: [12])).run(teacher: teacher, data: train)
        // measured: 95% after 30 epochs (54% after one)
        XCTAssertGreaterThanOrEqual(try F.agreement(student, teacher, on: test), 0.9)
        XCTAssertEqual(report.training.logs.count, 30)
        XCTAssertLessThan(report.training.logs.last!.trainLoss, report.training.logs.first!.trainLoss)
        XCTAssertEqual(report.rows, 400)
        XCTAssertTrue(report.usedLabels)
        XCTAssertEqual(report.teacherParameters, 4 * 16 + 16 + 16 * 3 + 3)
        XCTAssertEqual(report.studentParameters, 4 * 12 + 12 + 12 * 3 + 3)
        XCTAssertEqual(student.parameterCount, report.studentParameters)
        XCTAssertNil(report.validationAccuracy)
    }

    /// Same inputs and seed: the same weights, bit for bit; another seed: other weights.
    func testSameSeedGivesIdenticalWeights() throws {
        let teacher = try F.teacher()
        let train = try F.data(rows: 200, seed: 3, labeller: teacher)
        let a = try distillation(.mlp(hidden: [8]), epochs: 5).run(teacher: teacher, data: train).0
        let b = try distillation(.mlp(hidden: [8]), epochs: 5).run(teacher: teacher, data: train).0
        let c = try distillation(.mlp(hidden: [8]), epochs: 5, seed: 2).run(teacher: teacher, data: train).0
        XCTAssertEqual(try F.floats(a), try F.floats(b))
        XCTAssertEqual(a.metadata, b.metadata)
        XCTAssertNotEqual(try F.floats(a), try F.floats(c))
    }

    /// The provenance step and keys, written through Provenance.stamp.
    func testProvenanceRecordsSourcesAndSettings() throws {
        let teacher = try F.teacher()
        var d = distillation(.mlp(hidden: [8, 4]), epochs: 2)
        d.sources = Distillation.Sources(teacherSHA256: "aa", dataSHA256: "bb")
        d.features = [Distillation.FeaturePair(student: "relu1", teacher: "relu1")]
        let (student, _) = try d.run(teacher: teacher, data: try F.data(rows: 50, seed: 4))
        XCTAssertEqual(student.metadata[Provenance.versionKey], AICompressVersion.string)
        XCTAssertEqual(student.metadata["aicompress.teacher.sha256"], "aa")
        XCTAssertEqual(student.metadata["aicompress.data.sha256"], "bb")
        XCTAssertEqual(student.metadata[Model.stepKey(0)],
                       "distill teacher.sha256=aa data.sha256=bb student=mlp hidden=8,4 temperature=4.0 alpha=1.0 "
                       + "features=relu1=relu1 feature_weight=1.0 optimizer=adam lr=0.01 beta1=0.9 beta2=0.999 eps=1e-08 "
                       + "epochs=2 batch=32 seed=1 rows=50")
        XCTAssertFalse(student.tensors.contains { $0.name.hasPrefix("distill.projection") })
        XCTAssertNil(student.metadata[Model.stepKey(1)])
    }

    /// α = 0 and T = 1 is plain cross-entropy: distillation equals fine-tuning.
    func testAlphaZeroEqualsFineTuning() throws {
        let teacher = try F.teacher()
        let start = try Distillation.mlpStudent(inputName: "x", rowShape: [F.features], hidden: [6], outputs: F.classes, seed: 5)
        let train = try F.data(rows: 120, seed: 6, labeller: teacher)
        var d = distillation(.model(start), epochs: 3)
        d.alpha = 0
        d.temperature = 1
        let kd = try d.run(teacher: teacher, data: train).0
        let plain = try FineTuning(options: d.training).run(start, data: train).0
        XCTAssertEqual(try F.floats(kd), try F.floats(plain))
        XCTAssertNotEqual(try F.floats(kd), try F.floats(start))
    }

    /// A student cut from the teacher keeps the teacher's layout with fewer channels.
    func testShrinkAndDataFree() throws {
        let teacher = try F.teacher()
        var d = distillation(.shrink(keep: 0.5), epochs: 20)
        d.synthesis = Distillation.Synthesis(rows: 300, range: -2...2)
        let (student, report) = try d.run(teacher: teacher, data: try F.data(rows: 10, seed: 7))
        XCTAssertEqual(report.studentParameters, 4 * 8 + 8 + 8 * 3 + 3)
        XCTAssertEqual(report.rows, 300)
        XCTAssertFalse(report.usedLabels)
        // measured: 88%
        XCTAssertGreaterThanOrEqual(try F.agreement(student, teacher, on: try F.data(rows: 300, seed: 8)), 0.8)
        XCTAssertTrue(student.metadata[Model.stepKey(0)]?.contains("student=shrink keep=0.5 temperature=4.0 alpha=1.0 data_free=300 range=-2.0,2.0") == true)
    }

    /// Validation rows give per-epoch accuracy; a hold-out takes its share of the rows.
    func testValidationAccuracyAndHoldOut() throws {
        let teacher = try F.teacher()
        let train = try F.data(rows: 200, seed: 9, labeller: teacher)
        let val = try F.data(rows: 100, seed: 10, labeller: teacher)
        let (_, r) = try distillation(.mlp(hidden: [8]), epochs: 30).run(teacher: teacher, data: train, validation: .rows(val))
        XCTAssertGreaterThan(try XCTUnwrap(r.validationAccuracy), 0.75)  // measured: 83%
        let (_, h) = try distillation(.mlp(hidden: [8]), epochs: 1).run(teacher: teacher, data: train, validation: .holdOut(fraction: 0.25))
        XCTAssertEqual(h.rows, 150)
    }

    /// Each failure is its own error, naming the model it concerns.
    func testErrorsNameTheModelTheyConcern() throws {
        let teacher = try F.teacher()
        let data = try F.data(rows: 20, seed: 12, labeller: teacher)
        let wide = try Distillation.mlpStudent(inputName: "x", rowShape: [5], hidden: [4], outputs: F.classes, seed: 1)
        XCTAssertThrowsError(try distillation(.model(wide)).run(teacher: teacher, data: data)) {
            XCTAssertEqual($0 as? DistillationError, .studentInputMismatch(student: 5, teacher: 4))
        }
        let binary = try Distillation.mlpStudent(inputName: "x", rowShape: [4], hidden: [4], outputs: 2, seed: 1)
        XCTAssertThrowsError(try distillation(.model(binary)).run(teacher: teacher, data: data)) {
            XCTAssertEqual($0 as? DistillationError, .studentOutputMismatch(classes: 3))
        }
        let regression = try Distillation.mlpStudent(inputName: "x", rowShape: [4], hidden: [4], outputs: 1, seed: 1)
        XCTAssertThrowsError(try distillation(.mlp(hidden: [4])).run(teacher: regression, data: data)) {
            XCTAssertEqual($0 as? DistillationError, .teacherNotClassifier)
        }
        var feature = distillation(.mlp(hidden: [4]))
        feature.features = [Distillation.FeaturePair(student: "nope", teacher: "relu1")]
        XCTAssertThrowsError(try feature.run(teacher: teacher, data: data)) {
            XCTAssertEqual($0 as? DistillationError, .studentHasNoValue("nope"))
        }
        feature.features = [Distillation.FeaturePair(student: "relu1", teacher: "nope")]
        XCTAssertThrowsError(try feature.run(teacher: teacher, data: data)) {
            XCTAssertEqual($0 as? DistillationError, .teacher(.badInput("the teacher has no float value 'nope'")))
        }
        // a generated student that diverges is the student's fault, not the teacher's
        var wild = distillation(.mlp(hidden: [4]), epochs: 2)
        wild.training.optimizer.learningRate = 1e30
        XCTAssertThrowsError(try wild.run(teacher: teacher, data: data)) {
            guard case .student(.badInput(let m))? = $0 as? DistillationError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.hasPrefix("the loss became"), m)
        }
        var badLabels = data
        badLabels.targets = [Double](repeating: 7, count: data.rows)
        XCTAssertThrowsError(try distillation(.mlp(hidden: [4])).run(teacher: teacher, data: badLabels, dataName: "d.csv")) {
            XCTAssertEqual($0 as? DistillationError,
                           .labels(.badInput("d.csv: row 1: label 7.0 is not one of the model's 3 classes"), validation: false))
        }
        XCTAssertThrowsError(try distillation(.shrink(keep: 0)).run(teacher: teacher, data: data)) {
            XCTAssertEqual($0 as? DistillationError, .invalidParameter(name: "keep", reason: "must be in (0, 1]"))
        }
    }
}
