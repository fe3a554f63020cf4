import AICompressCore
@testable import AICompressFormats
import AICompressTraining
import XCTest

/// One test per rewrite of the ai.onnx version converter: the node's new form, and, where our
/// executor runs both forms, that the old and the new graph compute the same values.
final class ONNXVersionConverterTests: XCTestCase {
    /// A one-input graph `x` → nodes → `y` at ai.onnx `opset`.
    func model(_ nodes: [Node], opset: Int64, x: [Int64] = [2, 3, 4], y: [Int64]? = nil, tensors: [Tensor] = []) throws -> Model {
        let g = Graph(name: "g", opsets: [OpsetImport(domain: "", version: opset)],
                      inputs: [ValueInfo(name: "x", elemType: 1, shape: x.map { .fixed($0) })],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: y?.map { .fixed($0) })], nodes: nodes)
        return try Model(tensors: tensors, graph: g)
    }

    func convert(_ m: Model, to: Int64) throws -> Model {
        let from = m.graph?.opsets.first?.version ?? 1
        return try ONNXVersionConverter.convert(m, from: from, to: to, needs: "the test")
    }

    /// Runs `m` on a deterministic input of shape `x`.
    func run(_ m: Model, x: [Int]) throws -> NDArray {
        let n = x.reduce(1, *)
        let input = NDArray(shape: x, floats: (0..<n).map { Float(($0 * 37) % 23) / 7 - 1.5 })
        let out = try Network(model: m).predict(["x": input])
        return try XCTUnwrap(out["y"])
    }

    func assertSameFunction(_ a: Model, _ b: Model, x: [Int], file: StaticString = #filePath, line: UInt = #line) throws {
        let ya = try run(a, x: x), yb = try run(b, x: x)
        XCTAssertEqual(ya.shape, yb.shape, file: file, line: line)
        for (p, q) in zip(ya.floats, yb.floats) { XCTAssertEqual(p, q, accuracy: 1e-6, file: file, line: line) }
    }

    func ints(_ m: Model, _ name: String) -> [Int64]? {
        m.tensor(named: name).map { t in t.data.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) } }
    }

    func testSoftmaxOverANonLastAxisIsFlattenedAsBefore() throws {
        for op in ["Softmax", "LogSoftmax"] {
            let old = try model([Node(name: "s", opType: op, inputs: ["x"], outputs: ["y"])], opset: 11)
            let new = try convert(old, to: 13)
            XCTAssertEqual(new.graph?.nodes.map(\.opType), ["Shape", "Flatten", op, "Reshape"], op)
            XCTAssertEqual(new.graph?.opsets.first?.version, 13)
            XCTAssertEqual(new.graph?.nodes.last?.outputs, ["y"])
            try assertSameFunction(old, new, x: [2, 3, 4])
        }
    }

    func testSoftmaxOverTheLastAxisOnlyGetsItsAxis() throws {
        let old = try model([Node(name: "s", opType: "Softmax", inputs: ["x"], outputs: ["y"])], opset: 11, x: [5, 4])
        let new = try convert(old, to: 13)
        XCTAssertEqual(new.graph?.nodes.map(\.opType), ["Softmax"])
        XCTAssertEqual(new.graph?.nodes.first?.attribute("axis"), .int(1))
        try assertSameFunction(old, new, x: [5, 4])
        let hard = try convert(try model([Node(name: "h", opType: "Hardmax", inputs: ["x"], outputs: ["y"],
                                               attributes: [Attribute(name: "axis", value: .int(-1))])], opset: 12), to: 13)
        XCTAssertEqual(hard.graph?.nodes.first?.attribute("axis"), .int(2))
    }

    func testUnsqueezeAndSqueezeAxesBecomeInputs() throws {
        let old = try model([
            Node(name: "u", opType: "Unsqueeze", inputs: ["x"], outputs: ["u"], attributes: [Attribute(name: "axes", value: .ints([1]))]),
            Node(name: "s", opType: "Squeeze", inputs: ["u"], outputs: ["y"], attributes: [Attribute(name: "axes", value: .ints([1]))]),
        ], opset: 11)
        let new = try convert(old, to: 13)
        for n in new.graph?.nodes ?? [] {
            XCTAssertTrue(n.attributes.isEmpty, n.name)
            XCTAssertEqual(n.inputs.count, 2)
            XCTAssertEqual(ints(new, n.inputs[1]), [1])
        }
        try assertSameFunction(old, new, x: [2, 3, 4])
        // Before 13 nothing changes.
        XCTAssertEqual(try convert(old, to: 12).graph?.nodes.map(\.attributes), old.graph?.nodes.map(\.attributes))
    }

    func testReduceAxesBecomeInputsAtTheirOpset() throws {
        let axes = Attribute(name: "axes", value: .ints([1]))
        let old = try model([Node(name: "m", opType: "ReduceMean", inputs: ["x"], outputs: ["m"], attributes: [axes]),
                             Node(name: "s", opType: "ReduceSum", inputs: ["m"], outputs: ["y"], attributes: [axes])], opset: 12)
        let at13 = try convert(old, to: 13).graph!.nodes
        XCTAssertEqual(at13[0].attribute("axes"), .ints([1]), "ReduceMean keeps its attribute until 18")
        XCTAssertEqual(at13[1].inputs.count, 2, "ReduceSum takes axes as an input from 13")
        let at21 = try convert(old, to: 21)
        XCTAssertEqual(at21.graph!.nodes.map { $0.inputs.count }, [2, 2])
        XCTAssertEqual(ints(at21, at21.graph!.nodes[0].inputs[1]), [1])
    }

    func testDropoutBecomesIdentity() throws {
        let old = try model([Node(name: "d", opType: "Dropout", inputs: ["x"], outputs: ["y", ""],
                                  attributes: [Attribute(name: "ratio", value: .float(0.3))])], opset: 10)
        let new = try convert(old, to: 13)
        XCTAssertEqual(new.graph?.nodes, [Node(name: "d", opType: "Identity", inputs: ["x"], outputs: ["y"])])
        try assertSameFunction(old, new, x: [2, 3, 4])
        let masked = try model([Node(name: "d", opType: "Dropout", inputs: ["x"], outputs: ["z", "y"])], opset: 10)
        XCTAssertThrowsError(try convert(masked, to: 13)) {
            guard case .opsetConversion(let node, let op, 10, 13, _, let why) = $0 as? ONNXError else { return XCTFail("\($0)") }
            XCTAssertEqual([node, op], ["d", "Dropout"])
            XCTAssertTrue(why.contains("mask"), why)
        }
    }

    func testGemmLosesBroadcast() throws {
        let w = try Tensor(name: "w", shape: [4, 3], floats: (0..<12).map { Float($0) / 10 })
        let b = try Tensor(name: "b", shape: [3], floats: [0.5, -1, 2])
        let old = try model([Node(name: "g", opType: "Gemm", inputs: ["x", "w", "b"], outputs: ["y"],
                                  attributes: [Attribute(name: "broadcast", value: .int(1))])], opset: 6, x: [2, 4], tensors: [w, b])
        let new = try convert(old, to: 13)
        XCTAssertEqual(new.graph?.nodes.first?.attributes, [])
        try assertSameFunction(old, new, x: [2, 4])
    }

    func testLegacyBroadcastAlongAnAxisGetsTrailingUnitDimensions() throws {
        let b = try Tensor(name: "b", shape: [3], floats: [1, 2, 3])
        let old = try model([Node(name: "a", opType: "Add", inputs: ["x", "b"], outputs: ["y"],
                                  attributes: [Attribute(name: "broadcast", value: .int(1)), Attribute(name: "axis", value: .int(1))])],
                            opset: 6, tensors: [b])
        let new = try convert(old, to: 13)
        XCTAssertEqual(new.graph?.nodes.map(\.opType), ["Unsqueeze", "Add"])
        XCTAssertEqual(ints(new, new.graph!.nodes[0].inputs[1]), [1])
        XCTAssertEqual(new.graph?.nodes[1].attributes, [])
        // Along the trailing axes it is numpy broadcasting already.
        let suffix = try model([Node(name: "a", opType: "Mul", inputs: ["x", "c"], outputs: ["y"],
                                     attributes: [Attribute(name: "broadcast", value: .int(1))])], opset: 6,
                               tensors: [try Tensor(name: "c", shape: [4], floats: [1, 2, 3, 4])])
        XCTAssertEqual(try convert(suffix, to: 13).graph?.nodes.map(\.attributes), [[]])
    }

    func testSplitSizesBecomeAnInputAndEqualPartsGetACount() throws {
        let split = Node(name: "s", opType: "Split", inputs: ["x"], outputs: ["a", "b"],
                         attributes: [Attribute(name: "axis", value: .int(2)), Attribute(name: "split", value: .ints([1, 3]))])
        let sized = try convert(try model([split], opset: 11), to: 13)
        XCTAssertEqual(ints(sized, sized.graph!.nodes[0].inputs[1]), [1, 3])
        var equal = split
        equal.remove("split")
        let counted = try convert(try model([equal], opset: 11), to: 21).graph!.nodes[0]
        XCTAssertEqual(counted.attribute("num_outputs"), .int(2))
        XCTAssertEqual(counted.inputs, ["x"])
    }

    func testClipBoundsBecomeInputs() throws {
        let old = try model([Node(name: "c", opType: "Clip", inputs: ["x"], outputs: ["y"],
                                  attributes: [Attribute(name: "min", value: .float(-0.5)), Attribute(name: "max", value: .float(0.75))])],
                            opset: 6)
        let new = try convert(old, to: 13)
        XCTAssertEqual(new.graph?.nodes.first?.inputs.count, 3)
        XCTAssertEqual(new.graph?.nodes.first?.attributes, [])
        try assertSameFunction(old, new, x: [2, 3, 4])
        let maxOnly = try convert(try model([Node(name: "c", opType: "Clip", inputs: ["x"], outputs: ["y"],
                                                  attributes: [Attribute(name: "max", value: .float(1))])], opset: 10), to: 13)
        XCTAssertEqual(maxOnly.graph?.nodes.first?.inputs.first, "x")
        XCTAssertEqual(maxOnly.graph?.nodes.first?.inputs[1], "", "no lower bound")
    }

    func testBatchNormalizationDropsSpatialAndIsTest() throws {
        let attrs = [Attribute(name: "spatial", value: .int(1)), Attribute(name: "is_test", value: .int(1)),
                     Attribute(name: "consumed_inputs", value: .ints([0, 0, 0, 1, 1])), Attribute(name: "epsilon", value: .float(1e-3))]
        let bn = Node(name: "bn", opType: "BatchNormalization", inputs: ["x", "s", "b", "m", "v"], outputs: ["y"], attributes: attrs)
        let new = try convert(try model([bn], opset: 5), to: 13).graph!.nodes[0]
        XCTAssertEqual(new.attributes.map(\.name), ["epsilon"])
        var perElement = bn
        perElement.set("spatial", .int(0))
        XCTAssertThrowsError(try convert(try model([perElement], opset: 8), to: 13))
        XCTAssertEqual(try convert(try model([perElement], opset: 7), to: 8).graph!.nodes[0].attribute("spatial"), .int(0))
    }

    func testPadSlicesTopKReshapeConcatAttributes() throws {
        let pad = Node(name: "p", opType: "Pad", inputs: ["x"], outputs: ["p"],
                       attributes: [Attribute(name: "paddings", value: .ints([0, 1, 0, 1])), Attribute(name: "value", value: .float(0.25))])
        let slice = Node(name: "sl", opType: "Slice", inputs: ["p"], outputs: ["sl"],
                         attributes: [Attribute(name: "starts", value: .ints([1])), Attribute(name: "ends", value: .ints([3])),
                                      Attribute(name: "axes", value: .ints([1]))])
        let topk = Node(name: "t", opType: "TopK", inputs: ["sl"], outputs: ["tv", "ti"], attributes: [Attribute(name: "k", value: .int(2))])
        let reshape = Node(name: "r", opType: "Reshape", inputs: ["tv"], outputs: ["r"], attributes: [Attribute(name: "shape", value: .ints([-1]))])
        let concat = Node(name: "c", opType: "Concat", inputs: ["r", "r"], outputs: ["y"])
        let new = try convert(try model([pad, slice, topk, reshape, concat], opset: 1), to: 13)
        let nodes = new.graph!.nodes
        XCTAssertEqual(ints(new, nodes[0].inputs[1]), [0, 1, 0, 1])
        XCTAssertEqual(new.tensor(named: nodes[0].inputs[2])?.floatValues(), [0.25])
        XCTAssertEqual(nodes[1].inputs.count, 4)
        XCTAssertEqual(ints(new, nodes[2].inputs[1]), [2])
        XCTAssertEqual(ints(new, nodes[3].inputs[1]), [-1])
        XCTAssertEqual(nodes[4].attribute("axis"), .int(1))
        XCTAssertTrue(nodes.prefix(4).allSatisfy { $0.attributes.isEmpty })
    }

    func testOperatorsOutsideTheConverterAreRefused() throws {
        for (node, from) in [(Node(name: "mvn", opType: "MeanVarianceNormalization", inputs: ["x"], outputs: ["y"]), Int64(12)),
                             (Node(name: "r", opType: "Resize", inputs: ["x", "s"], outputs: ["y"]), 10),
                             (Node(name: "u", opType: "Upsample", inputs: ["x", "s"], outputs: ["y"]), 9),
                             (Node(name: "t", opType: "Resize", inputs: ["x", "roi", "s"], outputs: ["y"],
                                   attributes: [Attribute(name: "coordinate_transformation_mode",
                                                          value: .string(Array("tf_half_pixel_for_nn".utf8)))]), 11),
                             (Node(name: "i", opType: "If", inputs: ["c"], outputs: ["y"],
                                   attributes: [Attribute(name: "then_branch", value: .graph(Graph()))]), 11)] {
            XCTAssertThrowsError(try convert(try model([node], opset: from), to: 13), node.opType) {
                guard case .opsetConversion(let name, let op, _, 13, "the test", _) = $0 as? ONNXError else { return XCTFail("\($0)") }
                XCTAssertEqual([name, op], [node.name, node.opType])
                XCTAssertFalse("\($0)".contains("\n"))
            }
        }
    }

    func testOtherDomainsAndTypeOnlyChangesAreKept() throws {
        let nodes = [Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["r"]),
                     Node(name: "n", opType: "Normalizer", domain: "ai.onnx.ml", inputs: ["r"], outputs: ["y"])]
        let new = try convert(try model(nodes, opset: 9), to: 21)
        XCTAssertEqual(new.graph?.nodes, nodes)
        XCTAssertEqual(try convert(try model(nodes, opset: 13), to: 13).graph?.opsets.first?.version, 13)
    }
}
