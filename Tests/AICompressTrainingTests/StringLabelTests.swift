import AICompressCore
@testable import AICompressTraining
import XCTest

/// String tensors computed as indices of their strings (class labels of classifiers trained on
/// text), and the refusal when one would be combined by an op.
final class StringLabelTests: XCTestCase {
    func task(_ nodes: [Node], outputs: [ValueInfo]) throws -> ModelTask {
        let g = Graph(name: "s", opsets: [OpsetImport(domain: "", version: 17), OpsetImport(domain: "ai.onnx.ml", version: 1)],
                      inputs: [ValueInfo(name: "x", elemType: 1, shape: [.symbolic("N"), .fixed(2)])],
                      outputs: outputs, nodes: nodes)
        return try ModelTask(network: try Network(model: try Model(tensors: [], graph: g)))
    }

    let classes = Node(name: "aicompress.string_initializer", opType: "Constant", inputs: [], outputs: ["classes"], attributes: [
        Attribute(name: "value_strings", value: .strings([Array("cat".utf8), Array("dog".utf8)])),
        Attribute(name: "aicompress.dims", value: .ints([2])),
    ])

    func testLabelsThroughArrayFeatureExtractorAreNamed() throws {
        // argmax over the two features picks the class
        let nodes = [classes,
                     Node(name: "sh", opType: "Constant", inputs: [], outputs: ["shape"], attributes: [Attribute(name: "value_ints", value: .ints([-1]))]),
                     Node(name: "am", opType: "ArgMax", inputs: ["x"], outputs: ["i"], attributes: [Attribute(name: "axis", value: .int(1))]),
                     Node(name: "afe", opType: "ArrayFeatureExtractor", domain: "ai.onnx.ml", inputs: ["classes", "i"], outputs: ["l"]),
                     Node(name: "r", opType: "Reshape", inputs: ["l", "shape"], outputs: ["label"])]
        let t = try task(nodes, outputs: [ValueInfo(name: "label", elemType: 8, shape: nil)])
        XCTAssertEqual(t.labelOutput, "label")
        XCTAssertEqual(t.classNames, ["cat", "dog"])
        let d = Dataset(featureNames: ["a", "b"], features: [0, 1, 5, 2, -1, 3], rows: 3)
        XCTAssertEqual(try t.predict(d).values, [1, 0, 1])
        XCTAssertEqual(try t.network.stringLabels(), ["classes": ["cat", "dog"], "l": ["cat", "dog"], "label": ["cat", "dog"]])
        // text classes do not take numeric labels for training
        XCTAssertThrowsError(try t.classIndices([0, 1], classes: 2, file: "t.csv")) {
            XCTAssertEqual("\($0)", "t.csv: the label column holds numbers; the model's classes are text (cat, dog)")
        }
    }

    func testLinearClassifierWithStringClassesGivesIndices() throws {
        let lc = Node(name: "lc", opType: "LinearClassifier", domain: "ai.onnx.ml", inputs: ["x"], outputs: ["label", "p"], attributes: [
            Attribute(name: "classlabels_strings", value: .strings([Array("no".utf8), Array("yes".utf8)])),
            Attribute(name: "coefficients", value: .floats([1, 0, 0, 1])),
        ])
        let t = try task([lc], outputs: [ValueInfo(name: "label", elemType: 8, shape: nil), ValueInfo(name: "p", elemType: 1, shape: nil)])
        XCTAssertEqual(t.classNames, ["no", "yes"])
        let d = Dataset(featureNames: ["a", "b"], features: [3, 1, 0, 2], rows: 2)
        XCTAssertEqual(try t.predict(d).values, [0, 1])
    }

    func testStringsCombinedByAnOpAreRefused() {
        let nodes = [classes, Node(name: "cat", opType: "Concat", inputs: ["classes", "classes"], outputs: ["label"],
                                   attributes: [Attribute(name: "axis", value: .int(0))])]
        XCTAssertThrowsError(try task(nodes, outputs: [ValueInfo(name: "label", elemType: 8, shape: nil)])) {
            XCTAssertTrue("\($0)".contains("node 'cat'") && "\($0)".contains("input 'classes' is a string tensor"), "\($0)")
        }
    }
}
