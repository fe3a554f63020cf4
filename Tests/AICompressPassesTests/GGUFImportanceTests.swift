import AICompressCore
import XCTest

@testable import AICompressPasses

/// `quantize --gguf --imatrix` at the pass level: llama-quantize's imatrix-only type rules and
/// the lookup of each tensor's importance.
final class GGUFImportanceTests: XCTestCase {
    func types(_ ftype: String, importance: Bool, layers: Int = 16) throws -> [String: GGMLType] {
        let plan = try GGUFTypePlanner(fileType: XCTUnwrap(GGUFFileType.named(ftype)), hasImportance: importance)
            .plan(GGUFQuantizeTests.llama(layers: layers))
        var out = [String: GGMLType]()
        for d in plan { if let t = d.type { out[d.name] = t } }
        return out
    }

    /// With an imatrix, Q4_0/Q5_0 give the first eighth of ffn_down Q4_1/Q5_1, and IQ4_NL/IQ4_XS
    /// drop their Q5_K rule there (src/llama-quant.cpp, `qs.has_imatrix`); nothing else moves.
    func testImatrixTypeRules() throws {
        for (ftype, guarded, plain) in [("Q4_0", GGMLType.q4_1, GGMLType.q4_0), ("Q5_0", .q5_1, .q5_0),
                                        ("IQ4_XS", .iq4_XS, .q5_K), ("IQ4_NL", .iq4_NL, .q5_K)] {
            let with = try types(ftype, importance: true), without = try types(ftype, importance: false)
            for l in 0..<16 {
                let name = "blk.\(l).ffn_down.weight"
                if ftype.hasPrefix("Q") {
                    XCTAssertEqual(with[name], l < 2 ? guarded : plain, "\(ftype) \(name)")
                    XCTAssertEqual(without[name], plain, "\(ftype) \(name)")
                } else {
                    XCTAssertEqual(with[name], guarded, "\(ftype) \(name)")
                    XCTAssertEqual(without[name], l < 2 ? plain : guarded, "\(ftype) \(name)")
                }
            }
            XCTAssertEqual(with.filter { !$0.key.contains("ffn_down") }, without.filter { !$0.key.contains("ffn_down") }, ftype)
        }
        XCTAssertEqual(try types("Q4_K_M", importance: true), try types("Q4_K_M", importance: false))
    }

    /// A tensor the matrix names is encoded with its importance (the bytes of
    /// `GGMLType.quantize(_:rowLength:importance:)`), others without; a mismatched width is refused.
    func testTransformUsesTheNamedImportance() throws {
        let rows = 4, cols = 256
        let values = (0..<(rows * cols)).map { Float(sin(Double($0) * 0.37)) }
        let w = try Tensor(name: "blk.0.ffn_up.weight", shape: Shape([rows, cols]), floats: values)
        let other = try Tensor(name: "blk.0.ffn_gate.weight", shape: Shape([rows, cols]), floats: values)
        let imp = (0..<cols).map { Float($0 % 7 == 0 ? 50 : 1) }
        let sums = try Tensor(name: "blk.0.ffn_up.weight.in_sum2", shape: Shape([cols]), floats: imp.map { $0 * 8 })
        let counts = try Tensor(name: "blk.0.ffn_up.weight.counts", shape: Shape([1]), floats: [8])
        let matrix = try ImportanceMatrix(tensors: [sums, counts], source: "m.gguf")
        let pass = GGUFQuantize(fileType: try XCTUnwrap(GGUFFileType.named("Q4_K_M")), pure: true).withImportance(matrix)
        let transform = try pass.prepare(try Model(tensors: [w, other]))
        let (a, _) = try transform.transform(w)
        let (b, _) = try transform.transform(other)
        XCTAssertEqual(a.data.withUnsafeBytes { Array($0) }, try GGMLType.q4_K.quantize(values, rowLength: cols, importance: imp))
        XCTAssertEqual(b.data.withUnsafeBytes { Array($0) }, try GGMLType.q4_K.quantize(values))
        let narrow = try ImportanceMatrix(tensors: [
            try Tensor(name: "blk.0.ffn_up.weight.in_sum2", shape: Shape([128]), floats: [Float](repeating: 1, count: 128)), counts,
        ], source: "m.gguf")
        let bad = try GGUFQuantize(fileType: try XCTUnwrap(GGUFFileType.named("Q4_K_M")), pure: true).withImportance(narrow).prepare(try Model(tensors: [w]))
        XCTAssertThrowsError(try bad.transform(w))
    }
}
