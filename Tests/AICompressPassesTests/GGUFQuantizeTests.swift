import AICompressCore
@testable import AICompressPasses
import XCTest

/// `quantize --gguf`: the per-tensor types of llama-quantize's mixes on synthetic LLaMA-shaped
/// models, and each type's bytes and error after the pass.
final class GGUFQuantizeTests: XCTestCase {
    /// A LLaMA-shaped tensor list (names and row-major shapes) of `layers` blocks.
    static func llama(layers: Int, embd: Int = 256, ff: Int = 512, tied: Bool = false) -> [(name: String, shape: [Int])] {
        var t: [(name: String, shape: [Int])] = [("token_embd.weight", [64, embd])]
        for i in 0..<layers {
            let p = "blk.\(i)."
            t += [(p + "attn_norm.weight", [embd]), (p + "attn_q.weight", [embd, embd]), (p + "attn_k.weight", [embd / 2, embd]),
                  (p + "attn_v.weight", [embd / 2, embd]), (p + "attn_output.weight", [embd, embd]), (p + "ffn_norm.weight", [embd]),
                  (p + "ffn_gate.weight", [ff, embd]), (p + "ffn_up.weight", [ff, embd]), (p + "ffn_down.weight", [embd, ff])]
        }
        t.append(("output_norm.weight", [embd]))
        if !tied { t.append(("output.weight", [64, embd])) }
        return t
    }

    /// The types llama-quantize gives, written out from src/llama-quant.cpp for a plain LLaMA
    /// (no MoE, GQA factor 2, not 70B) independently of the planner's code.
    static func expected(_ ftype: String, _ name: String, shape: [Int], layers n: Int, tied: Bool) -> GGMLType? {
        guard shape.count >= 2, !name.contains("_norm") else { return nil }
        let base: [String: GGMLType] = ["Q4_0": .q4_0, "Q4_1": .q4_1, "Q5_0": .q5_0, "Q5_1": .q5_1, "Q8_0": .q8_0, "IQ4_NL": .iq4_NL,
                                        "Q4_K_S": .q4_K, "Q4_K_M": .q4_K, "Q5_K_S": .q5_K, "Q5_K_M": .q5_K, "Q6_K": .q6_K]
        var type = base[ftype]!
        let layer = name.hasPrefix("blk.") ? Int(name.split(separator: ".")[1])! : -1
        let bump = layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2
        let row = shape.last!
        if name == "output.weight" || (tied && name == "token_embd.weight") {
            type = row % type.blockSize != 0 ? .q8_0 : (type == .q8_0 ? .q8_0 : .q6_K)
        } else if name.hasSuffix("attn_v.weight") {
            if (ftype == "Q4_K_M" || ftype == "Q5_K_M") && bump { type = .q6_K }
            if ftype == "Q4_K_S" && layer < 4 { type = .q5_K }
        } else if name.hasSuffix("ffn_down.weight") {
            if (ftype == "Q4_K_M" || ftype == "Q5_K_M") && bump { type = .q6_K }
            if (ftype == "Q4_K_S" || ftype == "IQ4_NL") && layer < n / 8 { type = .q5_K }
        }
        if row % type.blockSize != 0 {
            type = [GGMLType.q4_K: .q5_0, .q5_K: .q5_1, .q6_K: .q8_0][type]!
        }
        return type
    }

    func testMixesFollowLlamaQuantize() throws {
        for layers in [8, 32, 2] {
            for tied in [false, true] {
                for ff in [512, 352] {  // 352: ffn_down rows not a multiple of 256 (fallbacks)
                    let tensors = Self.llama(layers: layers, ff: ff, tied: tied)
                    for ftype in ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"] {
                        let plan = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named(ftype))).plan(tensors)
                        XCTAssertEqual(plan.map(\.name), tensors.map(\.name))
                        for (d, t) in zip(plan, tensors) {
                            XCTAssertEqual(d.type, Self.expected(ftype, t.name, shape: t.shape, layers: layers, tied: tied),
                                           "\(ftype) n_layer=\(layers) tied=\(tied) ff=\(ff) \(t.name)")
                        }
                    }
                }
            }
        }
    }

    func testKnownQ4KMPatternFor32Layers() throws {
        let plan = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named("Q4_K_M"))).plan(Self.llama(layers: 32))
        let bumped = plan.filter { $0.name.hasSuffix("attn_v.weight") && $0.type == .q6_K }
            .map { Int($0.name.split(separator: ".")[1])! }
        // i < 4 || i >= 28 || (i - 4) % 3 == 2
        XCTAssertEqual(bumped, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
    }

    func testPureOverridesAndAliases() throws {
        let tensors = Self.llama(layers: 8, ff: 352)
        let pure = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named("Q4_K")), pure: true).plan(tensors)
        for (d, t) in zip(pure, tensors) where t.shape.count == 2 {
            XCTAssertEqual(d.type, t.shape[1] % 256 == 0 ? .q4_K : .q5_0, t.name)
            XCTAssertEqual(d.fellBack, t.shape[1] % 256 != 0)
        }
        XCTAssertEqual(GGUFFileType.named("q5_k")?.name, "Q5_K_M")
        let over = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named("Q4_K_M")),
                                       overrides: [("attn_(q|k)", .q8_0), ("ffn_down", .q6_K)]).plan(tensors)
        for d in over where d.name.contains("attn_q") || d.name.contains("attn_k") { XCTAssertEqual(d.type, .q8_0, d.name) }
        for d in over where d.name.contains("ffn_down") { XCTAssertEqual(d.type, .q8_0, "Q6_K on rows of 352 falls back to Q8_0") }
        // Rows not a multiple of 32 (llama-quantize's tensor_type_fallback): every type, a
        // 32-value one as a K-quant whose fallback does not fit either, is stored as F16.
        for ftype in ["Q4_0", "Q8_0", "IQ4_NL", "Q4_K_M", "Q6_K"] {
            let plan = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named(ftype))).plan([("w.weight", [4, 48])])
            XCTAssertEqual(plan.map(\.type), [.f16], ftype)
            XCTAssertEqual(plan.map(\.fellBack), [true], ftype)
        }
        XCTAssertThrowsError(try GGUFQuantize(parameters: {
            var v = PassParameters(); v[GGUFQuantize.Parameter.gguf] = .text("Q3_K_XL"); return v
        }()))
    }

    func testEachTypeEncodesExactlyAndWithinItsErrorBudget() throws {
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        let values: [Float] = (0..<(6 * 512)).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24) - 0.5
        }
        let weight = try Tensor(name: "blk.0.attn_q.weight", shape: [6, 512], floats: values)
        let budgets: [String: Double] = ["Q8_0": 0.01, "Q6_K": 0.02, "Q5_1": 0.04, "Q5_0": 0.04, "Q5_K_M": 0.04, "Q4_1": 0.08,
                                         "Q4_0": 0.09, "IQ4_NL": 0.09, "Q4_K_M": 0.08, "F16": 0.001, "BF16": 0.005]
        for (name, budget) in budgets {
            let fileType = try XCTUnwrap(GGUFFileType.named(name))
            let (out, report) = try GGUFQuantize(fileType: fileType, pure: true).apply(try Model(tensors: [weight]))
            let t = try XCTUnwrap(out.tensor(named: weight.name))
            let type = fileType.defaultType
            XCTAssertEqual(t.data.byteArray, try type.quantize(values), name)
            XCTAssertEqual(t.encoding, type.isQuantized ? .ggml(type) : .dense, name)
            let back = try t.densified().floatValues()
            let err = zip(values, back).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            let sig = values.reduce(0.0) { $0 + Double($1 * $1) }
            XCTAssertLessThan((err / sig).squareRoot(), budget, name)
            let r = try XCTUnwrap(report.tensors.first)
            XCTAssertEqual(r.relativeError, (err / sig).squareRoot(), accuracy: 1e-6, name)
            XCTAssertEqual(r.bitsPerWeight, type.bitsPerWeight, accuracy: 1e-9, name)
            XCTAssertEqual(out.metadata["gguf.file_type"], String(fileType.id))
        }
    }

    func testRequantizesAndSkipsNorms() throws {
        let w = try Tensor(name: "blk.0.ffn_up.weight", shape: [2, 256], floats: (0..<512).map { Float($0 % 17) - 8 })
        let q8 = try Tensor(name: w.name, dtype: .f32, shape: w.shape, encoding: .ggml(.q8_0), data: TensorData(bytes: try GGMLType.q8_0.quantize(w.floatValues())))
        let norm = try Tensor(name: "blk.0.ffn_norm.weight", shape: [256], floats: [Float](repeating: 1, count: 256))
        let q4km = try XCTUnwrap(GGUFFileType.named("Q4_K_M"))
        // Without `allow-requantize`: refused, as llama-quantize refuses it (a usage error).
        XCTAssertThrowsError(try GGUFQuantize(fileType: q4km).apply(try Model(tensors: [q8, norm]))) { error in
            guard case .invalidParameter(name: "allow-requantize", _, let reason)? = error as? PassError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.hasPrefix("tensor 'blk.0.ffn_up.weight' is already Q8_0: requantizing it to Q4_K "), reason)
        }
        let (out, _) = try GGUFQuantize(fileType: q4km, allowRequantize: true).apply(try Model(tensors: [q8, norm]))
        XCTAssertEqual(out.tensor(named: w.name)?.encoding, .ggml(.q4_K))
        XCTAssertEqual(out.tensor(named: w.name)?.data.byteArray, try GGMLType.q4_K.quantize(try q8.densified().floatValues()))
        XCTAssertEqual(out.tensor(named: norm.name), norm)
        // Already the chosen type: copied, no flag needed.
        let (same, _) = try GGUFQuantize(fileType: XCTUnwrap(GGUFFileType.named("Q8_0"))).apply(try Model(tensors: [q8]))
        XCTAssertEqual(same.tensor(named: w.name), q8)
    }
}
