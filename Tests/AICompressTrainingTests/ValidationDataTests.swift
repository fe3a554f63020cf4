import AICompressTraining
import XCTest

/// The hold-out split and the provenance summary of training options.
final class ValidationDataTests: XCTestCase {
    func rows(_ n: Int) -> Dataset {
        Dataset(featureNames: ["a"], features: (0..<n).map(Float.init), rows: n, targets: (0..<n).map(Double.init))
    }

    func testHoldOutIsASeededPartitionOfTheRows() throws {
        let (train, val) = try ValidationData.holdOut(fraction: 0.25).split(rows(20), seed: 3)
        let v = try XCTUnwrap(val)
        XCTAssertEqual(train.rows, 15)
        XCTAssertEqual(v.rows, 5)
        XCTAssertEqual(Set(train.features + v.features), Set((0..<20).map(Float.init)))
        XCTAssertEqual(train.targets?.map(Float.init), train.features)  // rows keep their labels
        XCTAssertEqual(try ValidationData.holdOut(fraction: 0.25).split(rows(20), seed: 3).validation?.features, v.features)
        XCTAssertNotEqual(try ValidationData.holdOut(fraction: 0.25).split(rows(20), seed: 4).validation?.features, v.features)
        // at least one validation row, and at least one left to train on
        XCTAssertEqual(try ValidationData.holdOut(fraction: 0.01).split(rows(20), seed: 0).validation?.rows, 1)
        XCTAssertThrowsError(try ValidationData.holdOut(fraction: 0.99).split(rows(20), seed: 0)) {
            XCTAssertEqual($0 as? ValidationSplitError, .noTrainingRowsLeft(rows: 20))
        }
        for f in [0, 1, -1, Double.nan] {
            XCTAssertThrowsError(try ValidationData.holdOut(fraction: f).split(rows(20), seed: 0)) {
                guard case .fractionOutOfRange? = $0 as? ValidationSplitError else { return XCTFail("\(f): \($0)") }
            }
        }
        XCTAssertNil(try ValidationData.none.split(rows(3), seed: 0).validation)
        XCTAssertEqual(try ValidationData.rows(rows(2), name: "v.csv").split(rows(3), seed: 0).validation?.rows, 2)
        XCTAssertEqual(ValidationData.rows(rows(2), name: "v.csv").name(trainingData: "t.csv"), "v.csv")
        XCTAssertEqual(ValidationData.holdOut(fraction: 0.5).name(trainingData: "t.csv"), "t.csv")
    }

    /// The default of a run that stops early: 10% of 20 or more rows, none of fewer.
    func testAutomaticHoldsOutATenthOfEnoughRows() throws {
        let (train, val) = try ValidationData.automatic.split(rows(40), seed: 3)
        XCTAssertEqual(train.rows, 36)
        XCTAssertEqual(val?.features, try ValidationData.holdOut(fraction: 0.1).split(rows(40), seed: 3).validation?.features)
        XCTAssertEqual(try ValidationData.automatic.split(rows(20), seed: 0).validation?.rows, 2)
        let (all, none) = try ValidationData.automatic.split(rows(19), seed: 0)
        XCTAssertNil(none)
        XCTAssertEqual(all.rows, 19)
        XCTAssertEqual(ValidationData.automatic.name(trainingData: "t.csv"), "t.csv")
        let o = TrainingOptions.untilConverged
        XCTAssertEqual([o.epochs, o.patience], [500, 10])
        XCTAssertTrue(o.summary.contains("epochs=500 batch=32 patience=10 seed=0"), o.summary)
    }

    func testSummarySpellsOutWhatDiffersFromAPlainRun() {
        var o = TrainingOptions()
        XCTAssertEqual(o.summary, "optimizer=adam lr=0.001 beta1=0.9 beta2=0.999 eps=1e-08 epochs=20 batch=32 seed=0")
        o.optimizer = OptimizerConfig(kind: .sgd, learningRate: 0.05)
        o.optimizer.momentum = 0.9
        o.optimizer.nesterov = true
        o.optimizer.weightDecay = 0.01
        o.batchSize = 0
        o.schedule = LRSchedule(kind: .cosine)
        o.schedule.warmupEpochs = 2
        o.clipNorm = 1
        o.patience = 3
        o.seed = 7
        o.keepSparsity = false
        XCTAssertEqual(o.summary, "optimizer=gd lr=0.05 momentum=0.9 nesterov weight_decay=0.01 epochs=20 batch=all schedule=cosine "
                       + "warmup=2 clip_norm=1.0 patience=3 seed=7 free_sparsity")
    }
}
