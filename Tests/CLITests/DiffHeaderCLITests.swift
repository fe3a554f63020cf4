import Foundation
import XCTest

/// `aicompress diff` beyond tensors: metadata key by key (GGUF pairs one by one) and graph op counts.
final class DiffHeaderCLITests: CLITestCase {
    func testMetadataAndGraphDifferences() throws {
        let dir = try tempDir(), mlp = fixture("demo/mlp-digits.ckpt")
        XCTAssertEqual(try run(["quantize", "-q", "--int8", mlp, dir + "/q.ckpt"]).status, 0)
        let j = try jsonObject(try run(["diff", "--json", mlp, dir + "/q.ckpt"]).stdout)
        let changes = try XCTUnwrap(j["metadata"] as? [[String: Any]])
        let step = try XCTUnwrap(changes.first { $0["key"] as? String == "aicompress.step.000" })
        XCTAssertTrue(step["a"] is NSNull)
        XCTAssertTrue((step["b"] as? String)?.hasPrefix("quantize scheme=int8 ") == true, "\(step)")
        XCTAssertTrue(changes.allSatisfy { ($0["a"] is NSNull) && ($0["key"] as? String)?.hasPrefix("aicompress.") == true }, "\(changes)")
        let ops = try XCTUnwrap(j["graph_ops"] as? [String: Any])
        XCTAssertEqual(ops["a"] as? [String: Int], ["Gemm": 2, "Relu": 1])
        XCTAssertEqual(ops["b"] as? [String: Int], ["Gemm": 2, "Relu": 1])

        // Without a graph on one side, and the same file twice.
        XCTAssertEqual(try run(["convert", "-q", mlp, dir + "/m.safetensors"]).status, 0)
        let noGraph = try run(["diff", mlp, dir + "/m.safetensors"]).text
        XCTAssertTrue(noGraph.contains("graph: A 3 nodes (Gemm ×2, Relu ×1), B no graph"), noGraph)
        let same = try run(["diff", mlp, mlp]).text
        XCTAssertTrue(same.contains("graph: the same op counts, 3 nodes (Gemm ×2, Relu ×1)"), same)
        XCTAssertNotNil(same.range(of: #"metadata: the same \(\d+ keys\)"#, options: .regularExpression), same)
    }

    /// GGUF's typed pairs are compared one by one, not as one opaque blob.
    func testGGUFPairsComparedOneByOne() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf")
        XCTAssertEqual(try run(["quantize", "-q", "--gguf", "Q4_0", input, dir + "/q.gguf"]).status, 0)
        let text = try run(["diff", input, dir + "/q.gguf"]).text
        XCTAssertTrue(text.contains("  ~ gguf.kv:general.file_type: 1 -> 2\n"), text)
        XCTAssertTrue(text.contains("  + gguf.kv:general.quantization_version = 2\n"), text)
        XCTAssertFalse(text.contains("gguf.kv:tokenizer"), "the vocabulary is unchanged: \(text)")
        let j = try jsonObject(try run(["diff", "--json", input, dir + "/q.gguf"]).stdout)
        let keys = try XCTUnwrap(j["metadata"] as? [[String: Any]]).compactMap { $0["key"] as? String }
        XCTAssertEqual(keys.filter { $0.hasPrefix("gguf.kv:") }, ["gguf.kv:general.file_type", "gguf.kv:general.quantization_version"])
    }
}
