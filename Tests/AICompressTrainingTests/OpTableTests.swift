import AICompressCore
@testable import AICompressTraining
import XCTest

/// The op table's own invariants: one record per key, one key form, and traits-only records
/// that the executor refuses with the usual message.
final class OpTableTests: XCTestCase {
    func testKeysAreUnique() {
        var seen = Set<String>()
        for d in OpTable.all { XCTAssertTrue(seen.insert(d.key).inserted, "\(d.key) is registered twice") }
    }

    func testKeysAreDomainQualifiedOutsideTheDefaultDomain() {
        XCTAssertNotNil(OpTable.executable(Node(name: "g", opType: "Gemm", domain: "ai.onnx", inputs: [], outputs: [])))
        XCTAssertNotNil(OpTable.executable(Node(name: "s", opType: "Scaler", domain: "ai.onnx.ml", inputs: [], outputs: [])))
        XCTAssertNil(OpTable.executable(Node(name: "s", opType: "Scaler", inputs: [], outputs: [])))
        XCTAssertTrue(Network.supportedOps.contains("ai.onnx.ml.LinearClassifier"))
        XCTAssertFalse(Network.supportedOps.contains("LinearClassifier"))
    }

    func testDifferentiableOpsAreExecutable() {
        XCTAssertTrue(OpTable.differentiableKeys.isSubset(of: OpTable.executableKeys))
    }

    /// Ops recorded only for their traits (channel pruning walks through Celu) are not run.
    func testRecognizedOpsAreRefusedByTheExecutor() throws {
        XCTAssertNotNil(OpTable.definition("Celu"))
        let g = Graph(name: "g", opsets: [OpsetImport(domain: "", version: 17)], inputs: [ValueInfo(name: "x", elemType: 1, shape: [.fixed(1)])],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                      nodes: [Node(name: "act", opType: "Celu", inputs: ["x"], outputs: ["y"])])
        XCTAssertThrowsError(try Network(model: try Model(tensors: [], graph: g))) {
            XCTAssertEqual("\($0)", "node 'act': op Celu is not supported by the executor")
        }
    }
}
