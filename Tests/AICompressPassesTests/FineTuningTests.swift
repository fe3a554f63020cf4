import AICompressCore
import AICompressPasses
import AICompressTraining
import XCTest

/// `FineTuning` (the core of `aicompress train`) on DistillationFixture's synthetic rows.
final class FineTuningTests: XCTestCase {
    typealias F = DistillationFixture

    func options(epochs: Int, seed: UInt64 = 0) -> TrainingOptions {
        var o = TrainingOptions()
        o.epochs = epochs
        o.seed = seed
        o.optimizer.learningRate = 0.01
        return o
    }

    func start() throws -> Model {
        try Distillation.mlpStudent(inputName: "x", rowShape: [F.features], hidden: [12], outputs: F.classes, seed: 21)
    }

    /// Training on the teacher's labels brings the model to agree with the teacher.
    func testFineTuningLearnsTheLabels() throws {
        let teacher = try F.teacher(), model = try start()
        let train = try F.data(rows: 400, seed: 22, labeller: teacher), test = try F.data(rows: 300, seed: 23)
        let before = try F.agreement(model, teacher, on: test)
        let (tuned, report) = try FineTuning(options: options(epochs: 60)).run(model, data: train)
        // measured: 52% before, 91% after (a margin for other BLAS kernels)
        XCTAssertGreaterThanOrEqual(try F.agreement(tuned, teacher, on: test), max(0.85, before + 0.3))
        XCTAssertEqual(report.parameters, model.parameterCount)
        XCTAssertEqual(report.tensors, 4)
        XCTAssertEqual(report.quantizedTensors, 0)
        XCTAssertEqual(report.rows, 400)
        XCTAssertLessThan(report.training.logs.last!.trainLoss, report.training.logs.first!.trainLoss)
    }

    /// Same seed: identical weights; frozen tensors stay exactly as they were.
    func testDeterminismAndFreeze() throws {
        let train = try F.data(rows: 100, seed: 24, labeller: try F.teacher())
        let tuning = FineTuning(options: options(epochs: 3), freeze: ["fc1.*"])
        let a = try tuning.run(try start(), data: train).0, b = try tuning.run(try start(), data: train).0
        XCTAssertEqual(try F.floats(a), try F.floats(b))
        let s = try F.floats(try start()), t = try F.floats(a)
        XCTAssertEqual(t["fc1.weight"], s["fc1.weight"])
        XCTAssertEqual(t["fc1.bias"], s["fc1.bias"])
        XCTAssertNotEqual(t["fc2.weight"], s["fc2.weight"])
        XCTAssertThrowsError(try FineTuning(options: options(epochs: 1), freeze: ["*"]).run(try start(), data: train)) {
            XCTAssertEqual($0 as? FineTuningError, .nothingToTrain)
        }
    }

    /// The step names the settings, the data's CRC-32 and the input; the input's facts are keys.
    func testProvenance() throws {
        let train = try F.data(rows: 60, seed: 25, labeller: try F.teacher())
        var o = options(epochs: 2)
        o.batchSize = 0
        o.optimizer.kind = .sgd
        let input = InputFacts(format: "ckpt", bytes: 1234, crc32: 0xABC)
        let (tuned, _) = try FineTuning(options: o, freeze: ["fc2.bias"], standardize: true)
            .run(try start(), data: train, validation: .holdOut(fraction: 0.5), input: input, dataCRC32: 0x12)
        XCTAssertEqual(tuned.metadata[Model.stepKey(0)],
                       "train optimizer=gd lr=0.01 epochs=2 batch=all seed=0 data.crc32=00000012 rows=30 standardize freeze=fc2.bias"
                       + " input.crc32=00000abc")
        XCTAssertEqual(tuned.metadata["aicompress.input.bytes"], "1234")
        XCTAssertNotNil(tuned.tensor(named: Model.inputMeanName))
    }

    /// Labels that are not classes, and a hold-out that leaves nothing, are errors.
    func testErrors() throws {
        var train = try F.data(rows: 10, seed: 26, labeller: try F.teacher())
        XCTAssertThrowsError(try FineTuning().run(try start(), data: train, validation: .holdOut(fraction: 0.99))) {
            XCTAssertEqual($0 as? ValidationSplitError, .noTrainingRowsLeft(rows: 10))
        }
        train.targets = [Double](repeating: 5, count: 10)
        XCTAssertThrowsError(try FineTuning().run(try start(), data: train, dataName: "t.csv")) {
            XCTAssertEqual($0 as? ExecutionError, .badInput("t.csv: row 1: label 5.0 is not one of the model's 3 classes"))
        }
    }
}
