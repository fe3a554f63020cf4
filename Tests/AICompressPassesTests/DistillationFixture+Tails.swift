import AICompressCore
import AICompressPasses
import XCTest

/// Endings that third-party exporters put after a classifier's logits (value `logits` of the
/// fixture MLPs), for the tests of models whose output is not logits.
extension DistillationFixture {
    /// `model` (ending in value `logits`) with `tail` nodes after it and `outputs` as the graph's outputs.
    static func withTail(_ model: Model, _ tail: [Node], outputs: [ValueInfo]) throws -> Model {
        var g = try XCTUnwrap(model.graph)
        g.nodes += tail
        g.outputs = outputs
        return try Model(tensors: model.tensors, graph: g)
    }

    /// The logits as the only output.
    static func logitsOutput() -> [ValueInfo] {
        [ValueInfo(name: "logits", elemType: 1, shape: [.symbolic("N"), .fixed(Int64(classes))])]
    }

    /// skl2onnx's default classifier ending: Softmax → ZipMap (a sequence of maps) beside ArgMax labels.
    static func zipMap(_ model: Model) throws -> Model {
        try withTail(model, [
            Node(name: "softmax", opType: "Softmax", inputs: ["logits"], outputs: ["probabilities"]),
            Node(name: "argmax", opType: "ArgMax", inputs: ["probabilities"], outputs: ["label"],
                 attributes: [Attribute(name: "axis", value: .int(1)), Attribute(name: "keepdims", value: .int(0))]),
            Node(name: "zipmap", opType: "ZipMap", domain: "ai.onnx.ml", inputs: ["probabilities"], outputs: ["output_probability"],
                 attributes: [Attribute(name: "classlabels_int64s", value: .ints((0..<Int64(classes)).map { $0 }))]),
        ], outputs: [ValueInfo(name: "label", elemType: 7, shape: [.symbolic("N")]),
                     ValueInfo(name: "output_probability", type: .sequence(.map(keyType: 7, value: .tensor(elemType: 1, shape: []))))])
    }

    /// A softmax spelled Exp → row sum (MatMul by a constant of ones) → Div, output `p`: its
    /// values are probabilities, which no Softmax node reveals.
    static func manualSoftmax(_ model: Model) throws -> Model {
        let ones = try Tensor(name: "ones", shape: Shape([classes, classes]), floats: [Float](repeating: 1, count: classes * classes))
        return try withTail(model, [
            Node(name: "exp", opType: "Exp", inputs: ["logits"], outputs: ["e"]),
            Node(name: "ones", opType: "Constant", inputs: [], outputs: ["ones"], attributes: [Attribute(name: "value", value: .tensor(ones))]),
            Node(name: "sum", opType: "MatMul", inputs: ["e", "ones"], outputs: ["s"]),
            Node(name: "normalize", opType: "Div", inputs: ["e", "s"], outputs: ["p"]),
        ], outputs: [ValueInfo(name: "p", elemType: 1, shape: [.symbolic("N"), .fixed(Int64(classes))])])
    }
}
