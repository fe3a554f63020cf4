import AICompressCore
@testable import AICompressTraining
import XCTest

/// Data sets of arrays by input name (an .npz for an encoder): the labels array, row subsets,
/// the feeds of a multi-input graph, and one refusal per check.
final class NamedArraysTests: XCTestCase {
    static func ints(_ shape: [Int], _ values: [Int64]) -> NDArray { NDArray(shape: shape, ints: values) }

    /// A graph of two int64 inputs `ids` and `mask` [batch, seq] whose output y = Cast(ids)·w + Cast(mask).
    static func twoInputNetwork() throws -> Network {
        let nodes = [Node(name: "ci", opType: "Cast", inputs: ["ids"], outputs: ["fi"], attributes: [Attribute(name: "to", value: .int(1))]),
                     Node(name: "cm", opType: "Cast", inputs: ["mask"], outputs: ["fm"], attributes: [Attribute(name: "to", value: .int(1))]),
                     Node(name: "m", opType: "Mul", inputs: ["fi", "w"], outputs: ["p"]),
                     Node(name: "a", opType: "Add", inputs: ["p", "fm"], outputs: ["y"])]
        let seq: [AICompressCore.Dimension] = [.symbolic("batch"), .symbolic("seq")]
        let g = Graph(name: "two", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: "ids", elemType: 7, shape: seq), ValueInfo(name: "mask", elemType: 7, shape: seq)],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)], nodes: nodes)
        return try Network(model: try Model(tensors: [try Tensor(name: "w", shape: [3], floats: [1, 2, 3])], graph: g))
    }

    func testLabelsSubsetsAndFeeds() throws {
        let d = try Dataset.named([("ids", Self.ints([2, 3], [1, 2, 3, 4, 5, 6])), ("label", Self.ints([2], [1, 0])),
                                   ("mask", NDArray(shape: [2, 3], floats: [1, 1, 0, 1, 0, 0]))], label: nil, file: "t.npz")
        XCTAssertEqual(d.rows, 2)
        XCTAssertEqual(d.targets, [1, 0])
        XCTAssertEqual(d.namedInputs?.arrays.map(\.name), ["ids", "mask"], "the labels are not an input")
        let back = d.subset([1])
        XCTAssertEqual(back.targets, [0])
        XCTAssertEqual(back.namedInputs?.arrays[0].array, Self.ints([1, 3], [4, 5, 6]))
        let task = try ModelTask(network: try Self.twoInputNetwork())
        XCTAssertNotNil(task.tableRefusal, "two inputs cannot come from one table")
        let feeds = try task.feeds(d, rows: [1, 0])
        // float data for an integer input is fed as exact int64
        XCTAssertEqual(feeds["mask"], Self.ints([2, 3], [1, 0, 0, 1, 1, 0]))
        let y = try XCTUnwrap(task.network.predict(feeds)["y"])
        XCTAssertEqual(y.floats, [5, 10, 18, 2, 5, 9])
        XCTAssertEqual(try task.predict(d).values, [2, 2], "predict runs in batches of named rows")
    }

    func testRefusals() throws {
        let ids = Self.ints([2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try Dataset.named([("ids", ids)], label: "y", file: "t.npz")) {
            XCTAssertEqual(($0 as? DataError)?.message, "has no array 'y' for the labels (arrays: ids)")
        }
        XCTAssertThrowsError(try Dataset.named([("ids", ids), ("label", Self.ints([2, 2], [0, 1, 1, 0]))], label: nil, file: "t.npz")) {
            XCTAssertEqual(($0 as? DataError)?.message, "labels 'label' have shape [2, 2], expected one per row of 2")
        }
        XCTAssertThrowsError(try Dataset.named([("ids", ids), ("mask", Self.ints([3, 1], [1, 1, 1]))], label: nil, file: "t.npz")) {
            XCTAssertEqual(($0 as? DataError)?.message, "array 'mask' has 3 rows, 'ids' 2")
        }
        XCTAssertThrowsError(try Dataset.named([("ids", ids), ("s", Self.ints([], [1]))], label: nil, file: "t.npz")) {
            XCTAssertEqual(($0 as? DataError)?.message, "array 's' is a scalar; arrays hold rows first")
        }
        XCTAssertThrowsError(try Dataset.named([("label", Self.ints([2], [0, 1]))], label: nil, file: "t.npz")) {
            XCTAssertEqual(($0 as? DataError)?.message, "holds no arrays")
        }
        // a table for a two-input model, and named arrays missing an input
        let task = try ModelTask(network: try Self.twoInputNetwork())
        let table = Dataset(featureNames: ["a", "b"], features: [0, 1], rows: 1)
        XCTAssertThrowsError(try task.feeds(table, rows: [0])) {
            XCTAssertEqual("\($0)", "\(ExecutionError.badInput("the model has 2 data inputs (ids, mask); feed them from an .npz with one array per input name"))")
        }
        let onlyIds = try Dataset.named([("ids", ids)], label: nil, file: "t.npz")
        XCTAssertThrowsError(try task.feeds(onlyIds, rows: [0])) { XCTAssertTrue("\($0)".contains("no arrays for input 'mask'"), "\($0)") }
    }
}
