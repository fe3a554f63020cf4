import AICompressCore
@testable import AICompressPasses
import XCTest

/// Prune then quantize: the pruned tensor is stored sparse + quantized (spec §5.4), decodes to
/// the bits the dense quantized form would, and dequantizes back to sparse f32.
final class SparseQuantizeTests: XCTestCase {
    func model() throws -> Model {
        try Model(tensors: [try Tensor(name: "w", shape: [64, 256], floats: gaussianValues(64 * 256, seed: 41))])
    }

    /// prune --keep 0.3 then int8 (per channel) and int4 (groups of 32): about 0.3 × bits + 1
    /// bits per weight plus the scales, the same values as quantizing the pruned tensor densely,
    /// in a pipeline and pass after pass.
    func testPruneThenQuantizeIsSparseQuantized() throws {
        let pruned = try Prune(method: .magnitude(keep: 0.3, scope: .tensor)).apply(try model()).0
        for (scheme, bits) in [(QuantizationScheme.int8, 8.0), (.int4, 4.0)] {
            let (out, report) = try Quantize(scheme: scheme).apply(pruned)
            let (chained, _) = try Pipeline([Prune(method: .magnitude(keep: 0.3, scope: .tensor)), Quantize(scheme: scheme)])
                .apply(try model())
            XCTAssertEqual(chained.tensors, out.tensors, "\(scheme.id): pipeline = pass after pass")
            let w = out.tensor(named: "w")!
            guard case .sparseQuantized(let nnz, let q) = w.encoding, let layout = w.sparseQuantizedLayout else {
                return XCTFail("\(scheme.id): \(w.encoding)")
            }
            XCTAssertEqual(nnz, Prune.keepCount(0.3, of: w.elementCount), "every kept weight is a non-zero integer")
            let scaleBits = Double((layout.payloadBytes - layout.scalesOffset) * 8) / Double(w.elementCount)
            XCTAssertEqual(layout.bitsPerWeight, 1 + 0.3 * bits + scaleBits, accuracy: 0.01, scheme.id)
            XCTAssertEqual(report.tensors[0].bytesAfter, w.storedBytes, "the report counts the bytes stored")
            // The dense quantized form of the same pruned values decodes to the same bits.
            let dense = try w.expandedQuantized()
            XCTAssertEqual(dense.encoding, .quantized(q))
            XCTAssertEqual(w.floatValues().map(\.bitPattern), dense.floatValues().map(\.bitPattern))
            let prunedValues = pruned.tensor(named: "w")!.floatValues()
            for (x, y) in zip(prunedValues, w.floatValues()) where x == 0 { XCTAssertEqual(y, 0) }
            // dequantize: sparse f32 again, the same values.
            let (back, _) = try Dequantize().apply(out)
            let b = back.tensor(named: "w")!
            guard case .sparse = b.encoding else { return XCTFail("dequantized \(b.encoding)") }
            XCTAssertEqual(b.floatValues(), w.floatValues())
            // An already quantized tensor is not selected again.
            XCTAssertThrowsError(try Quantize(scheme: scheme).apply(out))
        }
    }

    /// A dense tensor without zeros stays in the quantized encoding (the rule needs half the
    /// integers at their zero points).
    func testUnprunedTensorsStayQuantized() throws {
        for scheme in [QuantizationScheme.int8, .int4] {
            let (out, _) = try Quantize(scheme: scheme).apply(try model())
            guard case .quantized = out.tensor(named: "w")!.encoding else { return XCTFail("\(scheme.id)") }
        }
    }
}
