import AICompressCore
import AICompressPasses
import AICompressTraining
import XCTest

/// Models whose output is not logits: skl2onnx's default ZipMap export (trained through the
/// value before the Softmax), probabilities without a Softmax node (trained on log p), and
/// outputs no gradient reaches (refused, never "trained" with every weight unchanged).
final class FineTuningGradientTests: XCTestCase {
    typealias F = DistillationFixture

    func options(epochs: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.epochs = epochs
        o.optimizer.learningRate = 0.01
        return o
    }

    /// The fixture's starting MLP (value `logits`), with `tail` after it.
    static func model(tail: [Node], outputs: [ValueInfo]) throws -> Model {
        let m = try Distillation.mlpStudent(inputName: "x", rowShape: [F.features], hidden: [12], outputs: F.classes, seed: 21)
        return try F.withTail(m, tail, outputs: outputs)
    }

    /// Before the fix the loss sat on the ZipMap output, which passes no gradient: 0 of the
    /// weights changed and the loss stayed where it started.
    func testZipMapClassifierTrainsThroughItsLogits() throws {
        let teacher = try F.teacher(), model = try F.zipMap(try Self.model(tail: [], outputs: F.logitsOutput()))
        let task = try ModelTask(network: try Network(model: model))
        XCTAssertEqual(task.scoreOutput, "output_probability")
        XCTAssertEqual(task.logitsValue, "logits")
        let train = try F.data(rows: 400, seed: 22, labeller: teacher), test = try F.data(rows: 300, seed: 23)
        let before = try F.agreement(model, teacher, on: test)
        let (tuned, report) = try FineTuning(options: options(epochs: 40)).run(model, data: train)
        XCTAssertLessThan(report.training.logs.last!.trainLoss, report.training.logs.first!.trainLoss * 0.7)
        XCTAssertGreaterThanOrEqual(try F.agreement(tuned, teacher, on: test), max(0.85, before + 0.3))
        XCTAssertNotEqual(try F.floats(tuned)["fc1.weight"], try F.floats(model)["fc1.weight"])
    }

    /// A softmax spelled Exp → row sum (MatMul by a constant of ones) → Div: the values are
    /// probabilities, so cross-entropy is taken of log p, and training reaches what it reaches
    /// from the logits.
    func testProbabilitiesWithoutASoftmaxNodeTrainOnTheirLog() throws {
        let model = try F.manualSoftmax(try Self.model(tail: [], outputs: F.logitsOutput()))
        let teacher = try F.teacher()
        let train = try F.data(rows: 400, seed: 22, labeller: teacher), test = try F.data(rows: 300, seed: 23)
        let task = try ModelTask(network: try Network(model: model))
        XCTAssertEqual(task.logitsValue, "p")
        XCTAssertFalse(task.logitsValueIsProbabilities)
        XCTAssertTrue(try task.logitsAreProbabilities(on: train))
        let (tuned, report) = try FineTuning(options: options(epochs: 40)).run(model, data: train)
        let (reference, referenceReport) = try FineTuning(options: options(epochs: 40)).run(try Self.model(tail: [], outputs: F.logitsOutput()), data: train)
        // the same loss as from the logits, up to float rounding in exp/log
        XCTAssertEqual(report.training.logs.last!.trainLoss, referenceReport.training.logs.last!.trainLoss, accuracy: 1e-3)
        XCTAssertEqual(try F.agreement(tuned, teacher, on: test), try F.agreement(reference, teacher, on: test), accuracy: 0.01)
    }

    /// A float output that depends on the weights only through ArgMax: refused before training,
    /// naming the output and the node.
    func testOutputWithoutGradientPathIsRefused() throws {
        let model = try Self.model(tail: [
            Node(name: "argmax", opType: "ArgMax", inputs: ["logits"], outputs: ["k"],
                 attributes: [Attribute(name: "axis", value: .int(1)), Attribute(name: "keepdims", value: .int(0))]),
            Node(name: "to_float", opType: "Cast", inputs: ["k"], outputs: ["predicted"], attributes: [Attribute(name: "to", value: .int(1))]),
        ], outputs: [ValueInfo(name: "predicted", elemType: 1, shape: [.symbolic("N")])])
        let train = try F.data(rows: 50, seed: 22, labeller: try F.teacher())
        XCTAssertThrowsError(try FineTuning(options: options(epochs: 2)).run(model, data: train)) {
            XCTAssertEqual($0 as? FineTuningError,
                           .noGradient(.noPath(output: "predicted", value: "predicted", .node(name: "argmax", op: "ArgMax"))))
            XCTAssertEqual("\($0)", "output 'predicted' depends on the trainable tensors only through node 'argmax' (ArgMax), which passes no gradient: nothing can be trained")
        }
        let network = try Network(model: model)
        XCTAssertNil(network.gradientBlock(for: "logits"))
        XCTAssertEqual(network.gradientBlock(for: "x"), .noTrainableInput)
    }

    /// Every ReLU dead and no bias after it: the graph has a gradient path, but every gradient
    /// is exactly zero, so the run stops after the first epoch instead of reporting success.
    func testAllZeroGradientsAreRefused() throws {
        var model = try Self.model(tail: [], outputs: F.logitsOutput())
        var g = try XCTUnwrap(model.graph)
        g.nodes[g.nodes.count - 1].inputs.removeLast()  // fc2 without its bias
        var tensors = model.tensors.filter { $0.name != "fc2.bias" }
        tensors = try tensors.map { $0.name == "fc1.bias" ? try Tensor(name: $0.name, shape: $0.shape, floats: [Float](repeating: -1e4, count: 12)) : $0 }
        model = try Model(tensors: tensors, graph: g)
        let train = try F.data(rows: 50, seed: 22, labeller: try F.teacher())
        XCTAssertThrowsError(try FineTuning(options: options(epochs: 3)).run(model, data: train)) {
            XCTAssertEqual($0 as? FineTuningError, .noGradient(.allZero(values: ["logits"])))
        }
    }
}
