import AICompressCore
@testable import AICompressPasses
import XCTest

/// llama-quantize's low-bit mixes (Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q3_K_L): the planner's type of
/// every tensor of the tiny LLaMA fixture, the GQA and 70B rules, and Q2_K_S's refusal without
/// an importance matrix.
final class GGUFLowBitMixTests: XCTestCase {
    /// fixtures/llm/make_tiny_llama.py's model: 8 blocks, n_embd 256, 4 heads over 2 KV heads
    /// (`kvDivisor` 2), vocab 512, ffn `ff` wide; row-major shapes.
    static func tiny(layers: Int = 8, ff: Int, kvDivisor: Int = 2) -> [(name: String, shape: [Int])] {
        let embd = 256
        var t: [(name: String, shape: [Int])] = [("token_embd.weight", [512, embd])]
        for i in 0..<layers {
            let p = "blk.\(i)."
            t += [(p + "attn_norm.weight", [embd]), (p + "attn_q.weight", [embd, embd]), (p + "attn_k.weight", [embd / kvDivisor, embd]),
                  (p + "attn_v.weight", [embd / kvDivisor, embd]), (p + "attn_output.weight", [embd, embd]), (p + "ffn_norm.weight", [embd]),
                  (p + "ffn_gate.weight", [ff, embd]), (p + "ffn_up.weight", [ff, embd]), (p + "ffn_down.weight", [embd, ff])]
        }
        return t + [("output_norm.weight", [embd]), ("output.weight", [512, embd])]
    }

    /// llama-quantize's types (llama.cpp 0.3.36 of scripts/llama-cpp.sh) for the fixture's F32
    /// model (ff 512) and its ff352 variant, read with gguf-py from
    ///     llama-quantize [--imatrix IMATRIX] tiny-llama-{f32,ff352-f32}.gguf out.gguf TYPE 2
    /// (Q2_K_S with llama-imatrix's matrix of the fixture text, -c 128 --chunks 4); per role the
    /// types of blk.0 … blk.7.
    static let llamaQuantize: [String: [String: String]] = {
        let table: [(String, Int, [String: String])] = [
            ("Q2_K", 512, [
                "token_embd": "Q2_K", "output": "Q6_K",
                "attn_q": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_k": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_v": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_output": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_gate": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_up": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_down": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
            ]),
            ("Q2_K_S", 512, [
                "token_embd": "Q2_K", "output": "Q6_K",
                "attn_q": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_k": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_v": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_output": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_gate": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_up": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_down": "Q4_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
            ]),
            ("Q3_K_S", 512, [
                "token_embd": "Q3_K", "output": "Q6_K",
                "attn_q": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_k": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_v": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_output": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_gate": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_up": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_down": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
            ]),
            ("Q3_K_M", 512, [
                "token_embd": "Q3_K", "output": "Q6_K",
                "attn_q": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_k": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_v": "Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K",
                "attn_output": "Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K",
                "ffn_gate": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_up": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_down": "Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K",
            ]),
            ("Q3_K_L", 512, [
                "token_embd": "Q3_K", "output": "Q6_K",
                "attn_q": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_k": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_v": "Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K",
                "attn_output": "Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K",
                "ffn_gate": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_up": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_down": "Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K",
            ]),
            ("Q2_K", 352, [
                "token_embd": "Q2_K", "output": "Q6_K",
                "attn_q": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_k": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_v": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_output": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_gate": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_up": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_down": "Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0",
            ]),
            ("Q2_K_S", 352, [
                "token_embd": "Q2_K", "output": "Q6_K",
                "attn_q": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_k": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_v": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "attn_output": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_gate": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_up": "Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K Q2_K",
                "ffn_down": "Q5_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0",
            ]),
            ("Q3_K_S", 352, [
                "token_embd": "Q3_K", "output": "Q6_K",
                "attn_q": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_k": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_v": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_output": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_gate": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_up": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_down": "Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0",
            ]),
            ("Q3_K_M", 352, [
                "token_embd": "Q3_K", "output": "Q6_K",
                "attn_q": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_k": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_v": "Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K",
                "attn_output": "Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K",
                "ffn_gate": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_up": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_down": "Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0",
            ]),
            ("Q3_K_L", 352, [
                "token_embd": "Q3_K", "output": "Q6_K",
                "attn_q": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_k": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "attn_v": "Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K",
                "attn_output": "Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K",
                "ffn_gate": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_up": "Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K Q3_K",
                "ffn_down": "Q5_1 Q5_1 Q5_1 Q5_1 Q5_1 Q5_1 Q5_1 Q5_1",
            ]),
        ]
        var out = [String: [String: String]]()
        for (t, ff, types) in table { out["\(t)/\(ff)"] = types }
        return out
    }()

    func plan(_ ftype: String, _ tensors: [(name: String, shape: [Int])], importance: Bool = false) throws -> [String: GGMLType] {
        let decisions = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named(ftype)), hasImportance: importance).plan(tensors)
        var out = [String: GGMLType]()
        for d in decisions { if let t = d.type { out[d.name] = t } }
        return out
    }

    func testFixtureTypesEqualLlamaQuantize() throws {
        for ff in [512, 352] {
            for ftype in ["Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L"] {
                let expected = try XCTUnwrap(Self.llamaQuantize["\(ftype)/\(ff)"])
                let got = try plan(ftype, Self.tiny(ff: ff), importance: ftype == "Q2_K_S")
                XCTAssertEqual(got.count, 2 + 8 * 7, "\(ftype) ff \(ff): every matrix gets a type")
                for (role, types) in expected {
                    let want = types.split(separator: " ").map(String.init)
                    let names = role == "token_embd" || role == "output" ? ["\(role).weight"] : (0..<8).map { "blk.\($0).\(role).weight" }
                    XCTAssertEqual(names.map { got[$0]?.name ?? "-" }, want, "\(ftype) ff \(ff) \(role)")
                }
            }
        }
    }

    /// The rules the fixture cannot show, written from src/llama-quant.cpp: attn_v with a GQA
    /// factor of 4, the first sixteenth/eighth of ffn_down on 16 blocks, and the 70B bump.
    /// phi3's fused attn_qkv counts as attn_v (llama.cpp's own QKV branch is never reached), and
    /// its grouped-query factor comes from the fused rows: Phi-3 medium's 40 heads over 10 (here
    /// 8 over 2, 32 wide: attn_qkv 384 rows over attn_output's 256 columns) is 4, so Q2_K gives
    /// it Q4_K where mini's 1 gives Q3_K; ffn_up (gate and up fused) keeps the file type.
    func testPhi3FusedTensors() throws {
        func phi3(kv: Int) -> [(name: String, shape: [Int])] {
            var t: [(name: String, shape: [Int])] = [("token_embd.weight", [512, 256])]
            for i in 0..<8 {
                let p = "blk.\(i)."
                t += [(p + "attn_norm.weight", [256]), (p + "attn_qkv.weight", [256 + 2 * kv * 32, 256]), (p + "attn_output.weight", [256, 256]),
                      (p + "ffn_norm.weight", [256]), (p + "ffn_up.weight", [1024, 256]), (p + "ffn_down.weight", [256, 512])]
            }
            return t + [("output_norm.weight", [256]), ("output.weight", [512, 256])]
        }
        XCTAssertEqual(GGUFTypePlanner.groupedQueryFactor(phi3(kv: 2)), 4)
        XCTAssertEqual(GGUFTypePlanner.groupedQueryFactor(phi3(kv: 8)), 1)
        func types(_ ftype: String, _ t: [(name: String, shape: [Int])], _ role: String) throws -> [GGMLType?] {
            let d = try plan(ftype, t)
            return (0..<8).map { d["blk.\($0).\(role).weight"] }
        }
        XCTAssertEqual(try types("Q2_K", phi3(kv: 2), "attn_qkv"), Array(repeating: .q4_K, count: 8))
        XCTAssertEqual(try types("Q2_K", phi3(kv: 8), "attn_qkv"), Array(repeating: .q3_K, count: 8))
        // Q4_K_M: use_more_bits over the 8 attn_qkv (the attn_v counter): the first and last
        // eighths and (i − 1) % 3 == 2 between, blocks 0, 3, 6, 7.
        XCTAssertEqual(try types("Q4_K_M", phi3(kv: 2), "attn_qkv"), [.q6_K, .q4_K, .q4_K, .q6_K, .q4_K, .q4_K, .q6_K, .q6_K])
        XCTAssertEqual(try types("Q4_K_M", phi3(kv: 2), "ffn_up"), Array(repeating: .q4_K, count: 8))
    }

    func testGQALayerAnd70BRules() throws {
        let gqa4 = Self.tiny(layers: 16, ff: 512, kvDivisor: 4)
        func attnV(_ p: [String: GGMLType], _ n: Int) -> [GGMLType?] { (0..<n).map { p["blk.\($0).attn_v.weight"] } }
        func ffnDown(_ p: [String: GGMLType], _ n: Int) -> [GGMLType?] { (0..<n).map { p["blk.\($0).ffn_down.weight"] } }
        let n = 16
        XCTAssertEqual(attnV(try plan("Q2_K", gqa4), n), Array(repeating: .q4_K, count: n))
        XCTAssertEqual(attnV(try plan("Q2_K_S", gqa4), n), Array(repeating: .q4_K, count: n))
        XCTAssertEqual(attnV(try plan("Q3_K_S", gqa4), n), Array(repeating: .q3_K, count: n))
        XCTAssertEqual(attnV(try plan("Q3_K_M", gqa4), n), [.q5_K, .q5_K] + Array(repeating: .q4_K, count: n - 2))
        XCTAssertEqual(ffnDown(try plan("Q2_K_S", gqa4), n), [.q4_K, .q4_K] + Array(repeating: .q2_K, count: n - 2))
        XCTAssertEqual(ffnDown(try plan("Q3_K_M", gqa4), n), [.q5_K] + Array(repeating: .q4_K, count: n - 1))
        XCTAssertEqual(ffnDown(try plan("Q3_K_L", gqa4), n), Array(repeating: .q5_K, count: n))
        // 80 blocks with grouped-query attention is llama.cpp's 70B: attn_v's Q3_K/Q4_K become Q5_K.
        let big = Self.tiny(layers: 80, ff: 256)
        XCTAssertEqual(attnV(try plan("Q3_K_S", big), 80), Array(repeating: .q5_K, count: 80))
        XCTAssertEqual(attnV(try plan("Q3_K_M", big), 80), Array(repeating: .q5_K, count: 80))
        XCTAssertEqual(attnV(try plan("Q2_K", big), 80), Array(repeating: .q5_K, count: 80))
        XCTAssertEqual(attnV(try plan("Q2_K_S", big), 80), Array(repeating: .q2_K, count: 80))
        // Rows not a multiple of 256: Q2_K/Q3_K fall back to Q4_0, Q4_K to Q5_0, Q5_K to Q5_1.
        let odd = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named("Q3_K_M"))).plan(Self.tiny(ff: 352))
        XCTAssertEqual(odd.filter(\.fellBack).count, 8)
        XCTAssertEqual(GGUFFileType.named("q3_k")?.name, "Q3_K_M")
        XCTAssertEqual(["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q2_K_S"].map { GGUFFileType.named($0)?.id }, [10, 11, 12, 13, 21])
    }

    /// Q2_K_S: refused without an importance matrix (a usage error naming the first Q2_K
    /// tensor), and refused for a Q2_K tensor the matrix does not name; token_embd and output
    /// need none.
    func testQ2KSNeedsAnImportanceMatrix() throws {
        let values = (0..<(2 * 256)).map { Float(sin(Double($0))) }
        let w = try Tensor(name: "blk.0.ffn_up.weight", shape: Shape([2, 256]), floats: values)
        let embd = try Tensor(name: "token_embd.weight", shape: Shape([2, 256]), floats: values)
        let pass = GGUFQuantize(fileType: try XCTUnwrap(GGUFFileType.named("Q2_K_S")))
        XCTAssertThrowsError(try pass.prepare(try Model(tensors: [embd, w]))) { error in
            guard case .invalidParameter(let name, _, let reason)? = error as? PassError else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "gguf")
            XCTAssertTrue(reason.contains("'blk.0.ffn_up.weight'") && reason.contains("importance matrix"), reason)
        }
        XCTAssertNoThrow(try pass.prepare(try Model(tensors: [embd])))
        XCTAssertNoThrow(try pass.plan(try Model(tensors: [embd, w])))
        let sums = try Tensor(name: "blk.0.ffn_gate.weight.in_sum2", shape: Shape([256]), floats: [Float](repeating: 2, count: 256))
        let counts = try Tensor(name: "blk.0.ffn_gate.weight.counts", shape: Shape([1]), floats: [2])
        let other = try ImportanceMatrix(tensors: [sums, counts], source: "m.gguf")
        XCTAssertThrowsError(try pass.withImportance(other).prepare(try Model(tensors: [w]))) { error in
            guard case .unsupported(let tensor, _)? = error as? PassError else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, "blk.0.ffn_up.weight")
        }
        let named = try ImportanceMatrix(tensors: [
            try Tensor(name: "blk.0.ffn_up.weight.in_sum2", shape: Shape([256]), floats: (0..<256).map { Float($0 % 5 + 1) }),
            try Tensor(name: "blk.0.ffn_up.weight.counts", shape: Shape([1]), floats: [1]),
        ], source: "m.gguf")
        let (out, _) = try pass.withImportance(named).apply(try Model(tensors: [w]))
        XCTAssertEqual(out.tensor(named: w.name)?.data.byteArray,
                       try GGMLType.q2_K.quantize(values, rowLength: 256, importance: (0..<256).map { Float($0 % 5 + 1) }))
        XCTAssertEqual(out.metadata["gguf.file_type"], "21")
    }
}
