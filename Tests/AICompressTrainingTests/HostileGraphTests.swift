import AICompressCore
@testable import AICompressTraining
import XCTest

/// Graphs a fuzzer or a hostile file can produce: each ends in an error or a value, never a trap.
final class HostileGraphTests: XCTestCase {
    func run(_ nodes: [Node], tensors: [Tensor], input: [Int] = [1, 4], domainML: Bool = false) throws -> ModelTask.Predictions {
        var opsets = [OpsetImport(domain: "", version: 21)]
        if domainML { opsets.append(OpsetImport(domain: "ai.onnx.ml", version: 1)) }
        let g = Graph(name: "h", opsets: opsets,
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N")] + input.dropFirst().map { .fixed(Int64($0)) })],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)], nodes: nodes)
        let task = try ModelTask(network: try Network(model: try Model(tensors: tensors, graph: g)))
        let n = task.featureCount
        return try task.predict(Dataset(featureNames: (0..<n).map { "f\($0)" }, features: [Float](repeating: 1, count: n), rows: 1))
    }

    func testIntegerDivisionOverflowWraps() throws {
        let a = try Tensor(name: "a", dtype: .i64, shape: [1], data: TensorData(values: [Int64.min]))
        let b = try Tensor(name: "b", dtype: .i64, shape: [1], data: TensorData(values: [Int64(-1)]))
        let nodes = [Node(name: "d", opType: "Div", inputs: ["a", "b"], outputs: ["q"]),
                     Node(name: "c", opType: "Cast", inputs: ["q"], outputs: ["qf"], attributes: [Attribute(name: "to", value: .int(1))]),
                     Node(name: "y", opType: "Add", inputs: ["input", "qf"], outputs: ["y"])]
        XCTAssertNoThrow(try run(nodes, tensors: [a, b]))
    }

    func testBlockedScaleOfTheWrongShapeIsRefused() throws {
        let w = try Tensor(name: "w", dtype: .i8, shape: [4, 8], data: TensorData(values: [Int8](repeating: 1, count: 32)))
        let s = try Tensor(name: "s", shape: [1, 2], floats: [0.5, 0.25])  // needs [4, 2]
        let nodes = [Node(name: "dq", opType: "DequantizeLinear", inputs: ["w", "s"], outputs: ["wf"],
                          attributes: [Attribute(name: "axis", value: .int(1)), Attribute(name: "block_size", value: .int(4))]),
                     Node(name: "y", opType: "MatMul", inputs: ["input", "wf"], outputs: ["y"])]
        XCTAssertThrowsError(try run(nodes, tensors: [w, s])) { XCTAssertTrue("\($0)".contains("does not block"), "\($0)") }
    }

    func testHugeRegressorTargetsAreRefused() throws {
        let node = Node(name: "r", opType: "LinearRegressor", domain: "ai.onnx.ml", inputs: ["input"], outputs: ["y"],
                        attributes: [Attribute(name: "targets", value: .int(Int64.max / 2)), Attribute(name: "coefficients", value: .floats([1, 2, 3, 4]))])
        XCTAssertThrowsError(try run([node], tensors: [], domainML: true)) { XCTAssertTrue("\($0)".contains("limit"), "\($0)") }
    }

    func testConvWithoutInputChannelsGivesTheBias() throws {
        let x = try Tensor(name: "x", shape: [1, 0, 2, 2], floats: [])
        let w = try Tensor(name: "w", shape: [2, 0, 1, 1], floats: [])
        let b = try Tensor(name: "b", shape: [2], floats: [3, 4])
        let g = Graph(name: "c", opsets: [OpsetImport(domain: "", version: 17)], outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                      nodes: [Node(name: "c", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"])])
        let net = try Network(model: try Model(tensors: [x, w, b], graph: g))
        let y = try net.forward([:])["y"]!
        XCTAssertEqual(y.shape, [1, 2, 2, 2])
        XCTAssertEqual(y.floats, [3, 3, 3, 3, 4, 4, 4, 4])
    }

    func testOutputsWithoutOneRowPerInputAreRefused() throws {
        let c = try Tensor(name: "c", shape: [3], floats: [1, 2, 3])
        let nodes = [Node(name: "y", opType: "Identity", inputs: ["c"], outputs: ["y"]),
                     Node(name: "unused", opType: "Identity", inputs: ["input"], outputs: ["z"])]
        XCTAssertThrowsError(try run(nodes, tensors: [c])) { XCTAssertTrue("\($0)".contains("has shape [3] for 1 rows"), "\($0)") }
    }

    /// fixtures/fuzz-regressions/exec-resize-huge-scale.onnx: finite scales of 1e28 trapped in the
    /// Float-to-Int conversion of the output size.
    func testResizeWithHugeScalesIsRefused() throws {
        let scales = try Tensor(name: "scales", shape: [2], floats: [1.7433315e28, 1.5])
        let node = Node(name: "y", opType: "Resize", inputs: ["input", "", "scales"], outputs: ["y"],
                        attributes: [Attribute(name: "mode", value: .string(Array("nearest".utf8)))])
        XCTAssertThrowsError(try run([node], tensors: [scales])) { XCTAssertTrue("\($0)".contains("too long"), "\($0)") }
    }

    /// `Network.elementLimit` lowers the largest output a node may produce (the fuzz target runs
    /// with 2^20); the refusal names it.
    func testElementLimitIsTheRunsOwn() throws {
        let scales = try Tensor(name: "scales", shape: [2], floats: [1, 8])
        let g = Graph(name: "h", opsets: [OpsetImport(domain: "", version: 21)],
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(4)])],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                      nodes: [Node(name: "y", opType: "Resize", inputs: ["input", "", "scales"], outputs: ["y"])])
        var net = try Network(model: try Model(tensors: [scales], graph: g))
        let x = NDArray(shape: [1, 4], floats: [1, 2, 3, 4])
        XCTAssertEqual(try net.forward(["input": x])["y"]?.shape, [1, 32])
        net.elementLimit = 16
        XCTAssertThrowsError(try net.forward(["input": x])) { XCTAssertTrue("\($0)".contains("limit of 16 elements"), "\($0)") }
    }
    /// fixtures/fuzz-regressions/exec-range-huge-count.onnx: a float Range from 1.8e28 to 3.1 by
    /// 0.75 has a finite count of -2.4e28, which trapped converting to Int (so did Int64.min to
    /// Int64.max by 1). Now an empty range, or a refusal naming the element limit.
    func testRangeWithCountsBeyondIntIsEmptyOrRefused() throws {
        func range(_ s: Tensor, _ l: Tensor, _ d: Tensor) throws -> NDArray? {
            let g = Graph(name: "r", opsets: [OpsetImport(domain: "", version: 17)], outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                          nodes: [Node(name: "r", opType: "Range", inputs: [s.name, l.name, d.name], outputs: ["y"])])
            return try Network(model: try Model(tensors: [s, l, d], graph: g)).forward([:])["y"]
        }
        func f(_ name: String, _ v: Float) throws -> Tensor { try Tensor(name: name, shape: [], floats: [v]) }
        func i(_ name: String, _ v: Int64) throws -> Tensor { try Tensor(name: name, dtype: .i64, shape: [], data: TensorData(values: [v])) }
        XCTAssertEqual(try range(f("s", 1.8027502e28), f("l", 3.1), f("d", 0.75))?.shape, [0])
        XCTAssertEqual(try range(i("s", .max), i("l", .min), i("d", 1))?.shape, [0])
        for (s, l, d) in [(try f("s", -1.8e28), try f("l", 3.1), try f("d", 0.75)), (try i("s", .min), try i("l", .max), try i("d", 1)),
                          (try i("s", .max), try i("l", .min), try i("d", -1))] {
            XCTAssertThrowsError(try range(s, l, d)) { XCTAssertTrue("\($0)".contains("exceeds the executor's limit"), "\($0)") }
        }
        XCTAssertEqual(try range(f("s", 1), f("l", 2.5), f("d", 0.5))?.floats, [1, 1.5, 2])
        XCTAssertEqual(try range(i("s", 5), i("l", -2), i("d", -3))?.ints, [5, 2, -1])
    }

    /// fixtures/fuzz-regressions/exec-pad-huge-pads.onnx: pads near Int64.max overflowed the
    /// output size (axis + before + after). Now refused, as is a side removing more than its axis;
    /// pads in range still pad and crop.
    func testPadsThatOverflowOrRemoveMoreThanTheAxisAreRefused() throws {
        func pad(_ pads: [Int64], mode: String = "constant", shape: [Int] = [2, 3]) throws -> NDArray? {
            let x = try Tensor(name: "x", shape: Shape(shape), floats: [Float](repeating: 1, count: shape.reduce(1, *)).enumerated().map { Float($0.offset + 1) })
            let p = try Tensor(name: "p", dtype: .i64, shape: [pads.count], data: TensorData(values: pads))
            let g = Graph(name: "p", opsets: [OpsetImport(domain: "", version: 21)], outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                          nodes: [Node(name: "p", opType: "Pad", inputs: ["x", "p"], outputs: ["y"],
                                       attributes: [Attribute(name: "mode", value: .string(Array(mode.utf8)))])])
            return try Network(model: try Model(tensors: [x, p], graph: g)).forward([:])["y"]
        }
        for (pads, mode) in [([0, 8439871481813363714, 0, 6196953087261802497], "edge"), ([0, .max, 0, 0], "constant"),
                             ([0, -4, 0, 2], "constant"), ([-3, 0, 1, 0], "edge")] as [([Int64], String)] {
            XCTAssertThrowsError(try pad(pads, mode: mode), "\(pads)") { XCTAssertTrue("\($0)".contains("remove more than"), "\($0)") }
        }
        // An empty input grown along its other axis to 2^40: no elements, but the axis is walked.
        XCTAssertThrowsError(try pad([0, 0, 0, 1 << 40], shape: [0, 1])) { XCTAssertTrue("\($0)".contains("exceeds the executor's limit"), "\($0)") }
        XCTAssertEqual(try pad([0, -1, 0, 2])?.floats, [2, 3, 0, 0, 5, 6, 0, 0])
        XCTAssertEqual(try pad([0, 1, 0, 0], mode: "edge")?.floats, [1, 1, 2, 3, 4, 4, 5, 6])
    }
}
