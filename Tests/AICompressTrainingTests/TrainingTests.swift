import AICompressCore
@testable import AICompressTraining
import XCTest

final class TrainingTests: XCTestCase {
    /// y = input · Wᵀ (+ B): a Linear layer as torch exports it (Gemm with transB).
    func linearModel(inputs: Int, outputs: Int, w: [Float], b: [Float]?) throws -> Model {
        var tensors = [try Tensor(name: "W", shape: Shape([outputs, inputs]), floats: w)]
        if let b { tensors.append(try Tensor(name: "B", shape: Shape([outputs]), floats: b)) }
        let node = Node(name: "fc", opType: "Gemm", inputs: ["input", "W"] + (b == nil ? [] : ["B"]), outputs: ["y"],
                        attributes: [Attribute(name: "transB", value: .int(1))])
        let g = Graph(name: "linear", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(Int64(inputs))])],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: [.symbolic("N"), .fixed(Int64(outputs))])], nodes: [node])
        return try Model(tensors: tensors, graph: g)
    }

    func fit(_ model: Model, _ data: Dataset, _ options: TrainingOptions) throws -> ModelTask {
        var task = try ModelTask(network: try Network(model: model))
        let objective = try task.supervisedObjective(data, file: "data")
        _ = try Trainer.fit(&task, train: data, objective: objective, options: options)
        return task
    }

    // MARK: The seed document's example

    /// torch.nn.Linear(1, 1), x = 1, y = 0, loss (ŷ − y)², 100 steps. Reference values from a
    /// plain-Python implementation of the update rules (double precision), starting from
    /// w = 0.5, b = −0.3: SGD lr 0.01 → (0.401687031935885, −0.39831296806411504);
    /// Adam lr 0.001 → (0.42244460581912663, −0.3775553941808734).
    func testSeedExampleSGD() throws {
        var o = TrainingOptions()
        o.epochs = 100
        o.batchSize = 1
        o.optimizer = OptimizerConfig(kind: .sgd, learningRate: 0.01)
        let data = Dataset(featureNames: ["x"], features: [1], rows: 1, targets: [0])
        let t = try fit(try linearModel(inputs: 1, outputs: 1, w: [0.5], b: [-0.3]), data, o)
        XCTAssertEqual(t.network.parameters["W"]!.floats[0], 0.401687031935885, accuracy: 1e-6)
        XCTAssertEqual(t.network.parameters["B"]!.floats[0], -0.39831296806411504, accuracy: 1e-6)
    }

    func testSeedExampleAdam() throws {
        var o = TrainingOptions()
        o.epochs = 100
        o.batchSize = 1
        o.optimizer = OptimizerConfig(kind: .adam, learningRate: 0.001)
        let data = Dataset(featureNames: ["x"], features: [1], rows: 1, targets: [0])
        let t = try fit(try linearModel(inputs: 1, outputs: 1, w: [0.5], b: [-0.3]), data, o)
        XCTAssertEqual(t.network.parameters["W"]!.floats[0], 0.42244460581912663, accuracy: 1e-6)
        XCTAssertEqual(t.network.parameters["B"]!.floats[0], -0.3775553941808734, accuracy: 1e-6)
    }

    // MARK: Optimizers on convex problems

    /// Noise-free linear data y = 2·x0 − 3·x1 + 0.5.
    func regressionData(rows: Int = 64) -> Dataset {
        var rng = SplitMix64(seed: 7)
        var f = [Float](), t = [Double]()
        for _ in 0..<rows {
            let a = Float(rng.unit() * 2 - 1), b = Float(rng.unit() * 2 - 1)
            f += [a, b]
            t.append(Double(2 * a - 3 * b + 0.5))
        }
        return Dataset(featureNames: ["x0", "x1"], features: f, rows: rows, targets: t)
    }

    func testEveryOptimizerReachesTheLeastSquaresSolution() throws {
        let cases: [(String, OptimizerConfig, Int, Int)] = {
            var gd = OptimizerConfig(kind: .sgd, learningRate: 0.3)
            var mom = OptimizerConfig(kind: .sgd, learningRate: 0.05); mom.momentum = 0.9
            var nes = OptimizerConfig(kind: .sgd, learningRate: 0.05); nes.momentum = 0.9; nes.nesterov = true
            let adam = OptimizerConfig(kind: .adam, learningRate: 0.05)
            let adamw = OptimizerConfig(kind: .adamw, learningRate: 0.05)
            gd.weightDecay = 0
            return [("gd", gd, 0, 400), ("sgd+momentum", mom, 8, 60), ("nesterov", nes, 8, 60), ("adam", adam, 8, 150), ("adamw", adamw, 8, 150)]
        }()
        for (name, config, batch, epochs) in cases {
            var o = TrainingOptions()
            o.optimizer = config
            o.batchSize = batch
            o.epochs = epochs
            if config.kind != .sgd { o.schedule = LRSchedule(kind: .cosine) }
            let t = try fit(try linearModel(inputs: 2, outputs: 1, w: [0, 0], b: [0]), regressionData(), o)
            let w = t.network.parameters["W"]!.floats, b = t.network.parameters["B"]!.floats
            XCTAssertEqual(w[0], 2, accuracy: 1e-2, name)
            XCTAssertEqual(w[1], -3, accuracy: 1e-2, name)
            XCTAssertEqual(b[0], 0.5, accuracy: 1e-2, name)
        }
    }

    /// Gradient descent with an L2 penalty λ converges to the ridge solution, which for one
    /// feature and no bias is w = (2/n Σxy) / (2/n Σx² + λ).
    func testL2RegularizationGivesTheRidgeSolution() throws {
        let xs: [Float] = [0.5, -1, 2, 1.5, -0.5, 1]
        let ys: [Double] = [1.2, -1.9, 4.1, 2.8, -1.2, 2.1]
        let n = Double(xs.count), lambda = 0.5
        let sxy = zip(xs, ys).reduce(0.0) { $0 + Double($1.0) * $1.1 }, sxx = xs.reduce(0.0) { $0 + Double($1) * Double($1) }
        let ridge = (2 / n * sxy) / (2 / n * sxx + lambda)
        var o = TrainingOptions()
        o.optimizer = OptimizerConfig(kind: .sgd, learningRate: 0.1)
        o.optimizer.weightDecay = Float(lambda)
        o.batchSize = 0
        o.epochs = 500
        let t = try fit(try linearModel(inputs: 1, outputs: 1, w: [0], b: nil),
                        Dataset(featureNames: ["x"], features: xs, rows: xs.count, targets: ys), o)
        XCTAssertEqual(Double(t.network.parameters["W"]!.floats[0]), ridge, accuracy: 1e-5)
        XCTAssertLessThan(ridge, sxy / sxx - 0.1) // the penalty really shrinks the weight
    }

    func testSchedulesAndClipping() {
        var s = LRSchedule(kind: .step)
        s.stepEpochs = 3
        s.gamma = 0.5
        XCTAssertEqual([0, 2, 3, 6].map { s.rate(base: 1, epoch: $0, total: 10) }, [1, 1, 0.5, 0.25])
        var c = LRSchedule(kind: .cosine)
        c.minRate = 0.1
        XCTAssertEqual(c.rate(base: 1, epoch: 0, total: 11), 1, accuracy: 1e-6)
        XCTAssertEqual(c.rate(base: 1, epoch: 5, total: 11), 0.55, accuracy: 1e-6)
        XCTAssertEqual(c.rate(base: 1, epoch: 10, total: 11), 0.1, accuracy: 1e-6)
        var w = LRSchedule()
        w.warmupEpochs = 4
        XCTAssertEqual((0..<5).map { w.rate(base: 1, epoch: $0, total: 10) }, [0.25, 0.5, 0.75, 1, 1])
        var grads = ["a": NDArray(shape: [2], floats: [3, 0]), "b": NDArray(shape: [1], floats: [4])]
        XCTAssertEqual(clipGradients(&grads, maxNorm: 1), 5)
        XCTAssertEqual(grads["a"]!.floats, [0.6, 0])
        XCTAssertEqual(grads["b"]!.floats, [0.8])
    }

    func testSameSeedSameWeightsBitForBit() throws {
        func run(_ seed: UInt64) throws -> [Float] {
            var o = TrainingOptions()
            o.seed = seed
            o.epochs = 3
            o.batchSize = 5
            return try fit(try linearModel(inputs: 2, outputs: 1, w: [0.1, 0.2], b: [0]), regressionData(), o).network.parameters["W"]!.floats
        }
        let a = try run(1), b = try run(1), c = try run(2)
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
        XCTAssertNotEqual(a.map(\.bitPattern), c.map(\.bitPattern))
    }

    func testZeroWeightsStayZeroUnlessFreed() throws {
        let model = try linearModel(inputs: 2, outputs: 1, w: [0, 0.3], b: [0])
        var o = TrainingOptions()
        o.epochs = 5
        XCTAssertEqual(try fit(model, regressionData(), o).network.parameters["W"]!.floats[0], 0)
        o.keepSparsity = false
        XCTAssertNotEqual(try fit(model, regressionData(), o).network.parameters["W"]!.floats[0], 0)
    }

    func testEarlyStoppingKeepsTheBestEpoch() throws {
        // a learning rate far too high makes the validation loss grow after the first epoch
        var o = TrainingOptions()
        o.optimizer = OptimizerConfig(kind: .sgd, learningRate: 1.1)
        o.batchSize = 0
        o.epochs = 30
        o.patience = 3
        var task = try ModelTask(network: try Network(model: try linearModel(inputs: 2, outputs: 1, w: [0, 0], b: [0])))
        let data = regressionData()
        let obj = try task.supervisedObjective(data, file: "d")
        let r = try Trainer.fit(&task, train: data, objective: obj, validation: (data, obj), options: o)
        XCTAssertTrue(r.stoppedEarly)
        XCTAssertEqual(r.logs.count, r.bestEpoch + 3)
        let best = r.logs[r.bestEpoch - 1].validationLoss!
        XCTAssertTrue(r.logs.allSatisfy { $0.validationLoss! >= best })
        XCTAssertTrue(r.validated)
        XCTAssertEqual(r.keptLog?.epoch, r.bestEpoch)
    }

    /// skl2onnx's default classifier output: ZipMap over the probabilities, kept as the tensor.
    func testZipMapKeepsTheProbabilities() throws {
        let nodes = [Node(name: "sm", opType: "Softmax", inputs: ["input"], outputs: ["p"]),
                     Node(name: "zm", opType: "ZipMap", domain: "ai.onnx.ml", inputs: ["p"], outputs: ["output_probability"],
                          attributes: [Attribute(name: "classlabels_int64s", value: .ints([0, 1, 2]))])]
        let g = Graph(name: "z", opsets: [OpsetImport(domain: "", version: 17), OpsetImport(domain: "ai.onnx.ml", version: 1)],
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(3)])],
                      outputs: [ValueInfo(name: "output_probability", type: .sequence(.map(keyType: 7, value: .tensor(elemType: 1, shape: nil))))],
                      nodes: nodes)
        let task = try ModelTask(network: try Network(model: try Model(tensors: [], graph: g)))
        let p = try task.predict(Dataset(featureNames: ["a", "b", "c"], features: [1, 3, 2], rows: 1))
        XCTAssertEqual(p.values, [1])
        XCTAssertEqual(p.scores.reduce(0, +), 1, accuracy: 1e-6)
    }

    // MARK: Losses

    func testLossGradientsAgainstFiniteDifferences() {
        let z: [Float] = [0.3, -1.2, 2.0, 0.5, 0.1, -0.4]
        let teacher: [Float] = [1.0, 0.2, -0.5, -1.0, 2.0, 0.3]
        let labels = [2, 1]
        for t in [1.0, 4.0] {
            let (_, g) = Loss.distillationKL(student: NDArray(shape: [2, 3], floats: z), teacher: teacher, temperature: t)
            let (_, gc) = Loss.crossEntropy(logits: NDArray(shape: [2, 3], floats: z), labels: labels)
            for i in 0..<z.count {
                var up = z, down = z
                up[i] += 1e-3
                down[i] -= 1e-3
                let kd = (Loss.distillationKL(student: NDArray(shape: [2, 3], floats: up), teacher: teacher, temperature: t).0
                    - Loss.distillationKL(student: NDArray(shape: [2, 3], floats: down), teacher: teacher, temperature: t).0) / 2e-3
                XCTAssertEqual(Double(g.floats[i]), kd, accuracy: 1e-4, "KD T=\(t) [\(i)]")
                let ce = (Loss.crossEntropy(logits: NDArray(shape: [2, 3], floats: up), labels: labels).0
                    - Loss.crossEntropy(logits: NDArray(shape: [2, 3], floats: down), labels: labels).0) / 2e-3
                XCTAssertEqual(Double(gc.floats[i]), ce, accuracy: 1e-4, "CE [\(i)]")
            }
        }
        // KL of identical distributions is zero; cross-entropy of a uniform guess is ln(classes)
        XCTAssertEqual(Loss.distillationKL(student: NDArray(shape: [2, 3], floats: teacher), teacher: teacher, temperature: 2).0, 0, accuracy: 1e-12)
        XCTAssertEqual(Loss.crossEntropy(logits: NDArray.zeros([1, 4]), labels: [3]).0, Foundation.log(4.0), accuracy: 1e-12)
        let (mse, gm) = Loss.mse(NDArray(shape: [2], floats: [1, 3]), target: [0, 1])
        XCTAssertEqual(mse, 2.5)
        XCTAssertEqual(gm.floats, [1, 2])
    }

    // MARK: Metrics

    /// Hand-computed: truth/prediction over classes {0, 1, 2}.
    func testClassificationMetricsByHand() {
        let truth: [Double] = [0, 0, 0, 1, 1, 2, 2, 2, 2, 1]
        let pred: [Double] = [0, 1, 0, 1, 2, 2, 2, 0, 2, 1]
        let m = ClassificationMetrics(truth: truth, predicted: pred)
        XCTAssertEqual(m.confusion, [[2, 1, 0], [0, 2, 1], [1, 0, 3]])
        XCTAssertEqual(m.accuracy, 0.7)
        XCTAssertEqual(m.precision(0), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.recall(0), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.precision(2), 0.75, accuracy: 1e-12)
        XCTAssertEqual(m.recall(2), 0.75, accuracy: 1e-12)
        XCTAssertEqual(m.f1(1), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.macroF1, (2.0 / 3 + 2.0 / 3 + 0.75) / 3, accuracy: 1e-12)
        let r = RegressionMetrics(truth: [1, 2, 3], predicted: [1, 2, 5])
        XCTAssertEqual(r.mse, 4.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(r.mae, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(r.r2, 1 - 4.0 / 2, accuracy: 1e-12)
    }

    // MARK: Data

    let table = """
        a,b,label
        1,10,0
        ,20,1
        3,,0
        NA,40,1
        5,50,
        7,60,1

        """

    func load(_ s: String, _ m: MissingStrategy) throws -> Dataset {
        try Dataset.readCSV(Array(s.utf8), file: "t.csv", label: .auto, missing: m)
    }

    func testEveryMissingValueStrategy() throws {
        XCTAssertThrowsError(try load(table, .error)) { XCTAssertTrue("\($0)".contains("3 missing values")) }
        let drop = try load(table, .drop)
        XCTAssertEqual(drop.features, [1, 10, 7, 60])
        XCTAssertEqual(drop.targets, [0, 1])
        XCTAssertEqual(drop.missingSummary, "missing: 3 missing values in 2 columns (rows dropped); 1 rows without a label dropped; 3 rows dropped; 2 of 6 rows used")
        // the row without a label is dropped before statistics: a = {1, 3, 7}, b = {10, 20, 40, 60}
        let mean = try load(table, .mean)
        XCTAssertEqual(mean.features, [1, 10, 11.0 / 3, 20, 3, 32.5, 11.0 / 3, 40, 7, 60])
        XCTAssertEqual(try load(table, .median).features, [1, 10, 3, 20, 3, 30, 3, 40, 7, 60])
        XCTAssertEqual(try load(table, .zero).features, [1, 10, 0, 20, 3, 0, 0, 40, 7, 60])
        // interpolation runs along all rows: a = 1, _, 3, _, 5, 7 → 2 and 4; b: 10, 20, _, 40 → 30
        XCTAssertEqual(try load(table, .interpolate).features, [1, 10, 2, 20, 3, 30, 4, 40, 7, 60])
        XCTAssertEqual(try load("x,y\n,1\n2,0\n,1\n", .interpolate).features, [2, 2, 2])
    }

    func testBadRowsNameTheLine() {
        XCTAssertThrowsError(try load("a,b,label\n1,2,0\n1,2\n", .error)) {
            XCTAssertEqual("\($0)", "t.csv:3: has 2 fields, the header has 3")
        }
        XCTAssertThrowsError(try load("a,b,label\n1,2,0\n\n1,two,0\n", .error)) {
            XCTAssertEqual("\($0)", "t.csv:4: column 'b': 'two' is not a number")
        }
        XCTAssertThrowsError(try Dataset.readCSV(Array("a,b\n1,2\n".utf8), file: "t.csv", label: .name("c"), missing: .error)) {
            XCTAssertTrue("\($0)".contains("no column named 'c'"))
        }
        XCTAssertThrowsError(try load("a,\"b\n1,2\n", .error)) { XCTAssertTrue("\($0)".contains("unterminated")) }
    }

    func testCSVLabelChoicesAndQuoting() throws {
        let d = try Dataset.readCSV(Array("target,\"x, y\",z\n1,\"2\",3\n0,4,5\n".utf8), file: "t", label: .auto, missing: .error)
        XCTAssertEqual(d.labelName, "target")
        XCTAssertEqual(d.featureNames, ["x, y", "z"])
        XCTAssertEqual(d.features, [2, 3, 4, 5])
        let byIndex = try Dataset.readCSV(Array("1,2,3\n4,5,6\n".utf8), file: "t", label: .index(0), missing: .error)
        XCTAssertEqual(byIndex.featureNames, ["c1", "c2"]) // no header: numbered columns, first row is data
        XCTAssertEqual(byIndex.targets, [1, 4])
        let noLabel = try Dataset.readCSV(Array("a,b\n1,2\n".utf8), file: "t", label: .auto, missing: .error, expectedFeatures: 2)
        XCTAssertNil(noLabel.targets)
    }

    func npy(_ descr: String, shape: String, fortran: Bool = false, payload: [UInt8]) -> [UInt8] {
        var h = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        while (10 + h.utf8.count + 1) % 64 != 0 { h += " " }
        h += "\n"
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.utf8.count & 0xFF), UInt8(h.utf8.count >> 8)] + Array(h.utf8) + payload
    }

    func testNPYReading() throws {
        let f: [Float] = [1, 2, 3, 4, 5, 6]
        let bytes = f.withUnsafeBytes { Array($0) }
        let (shape, v) = try NPY.read(npy("<f4", shape: "(2, 3)", payload: bytes), file: "x.npy")
        XCTAssertEqual(shape, [2, 3])
        XCTAssertEqual(v, [1, 2, 3, 4, 5, 6])
        // column-major storage is reordered to rows
        let (_, vf) = try NPY.read(npy("<f4", shape: "(2, 3)", fortran: true, payload: bytes), file: "x.npy")
        XCTAssertEqual(vf, [1, 3, 5, 2, 4, 6])
        let labels = npy("<i8", shape: "(2,)", payload: [Int64(7), 9].withUnsafeBytes { Array($0) })
        let d = try NPY.dataset(features: npy("<f4", shape: "(2, 3)", payload: bytes), file: "x.npy", labels: labels, labelsFile: "y.npy", missing: .error)
        XCTAssertEqual(d.targets, [7, 9])
        XCTAssertEqual(d.featureCount, 3)
        // hostile headers: truncated data, absurd shapes, unknown dtypes
        XCTAssertThrowsError(try NPY.read(npy("<f4", shape: "(2, 3)", payload: Array(bytes.prefix(20))), file: "x.npy")) {
            XCTAssertTrue("\($0)".contains("needs 24"))
        }
        XCTAssertThrowsError(try NPY.read(npy("<f4", shape: "(4294967296, 4294967296)", payload: bytes), file: "x.npy"))
        XCTAssertThrowsError(try NPY.read(npy(">f4", shape: "(6,)", payload: bytes), file: "x.npy"))
        XCTAssertThrowsError(try NPY.read(Array("hello".utf8), file: "x.npy"))
    }
}

/// The files in fixtures/training (made by make_training_fixtures.py with numpy).
final class TrainingFixtureTests: XCTestCase {
    func bytes(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/training/\(name)")
        return Array(try Data(contentsOf: url))
    }

    func testNumpyFilesReadBackAndBadOnesAreRefused() throws {
        let (shape, v) = try NPY.read(try bytes("x.npy"), file: "x.npy")
        XCTAssertEqual(shape, [20, 6])
        let (shape64, v64) = try NPY.read(try bytes("x-f8-fortran.npy"), file: "x-f8-fortran.npy")
        XCTAssertEqual(shape64, [20, 6])
        XCTAssertEqual(v, v64) // float32 values widened exactly; column-major reordered
        let d = try NPY.dataset(features: try bytes("x.npy"), file: "x.npy", labels: try bytes("y.npy"), labelsFile: "y.npy", missing: .error)
        XCTAssertEqual(d.rows, 20)
        XCTAssertTrue(d.targets!.allSatisfy { (0...3).contains($0) })
        for (name, words) in [("bad-truncated.npy", "needs 480"), ("bad-shape.npy", "too large"), ("unsupported-bigendian.npy", "unsupported dtype")] {
            XCTAssertThrowsError(try NPY.read(try bytes(name), file: name)) { XCTAssertTrue("\($0)".contains(words), "\(name): \($0)") }
        }
    }

    func testCSVWithHolesAndQuotedHeader() throws {
        let b = try bytes("iris-holes.csv")
        XCTAssertThrowsError(try Dataset.readCSV(b, file: "iris-holes.csv", label: .auto, missing: .error))
        let d = try Dataset.readCSV(b, file: "iris-holes.csv", label: .name("species"), missing: .mean)
        XCTAssertEqual(d.rows, 30)
        XCTAssertEqual(d.featureNames, ["sepal_length", "sepal, width", "petal_length", "petal_width"])
        XCTAssertEqual(d.missingSummary, "missing: 4 missing values in 4 columns (filled by mean); 30 of 30 rows used")
        XCTAssertFalse(d.features.contains { $0.isNaN })
        XCTAssertEqual(try Dataset.readCSV(b, file: "f", label: .auto, missing: .drop).rows, 26)
    }
}
