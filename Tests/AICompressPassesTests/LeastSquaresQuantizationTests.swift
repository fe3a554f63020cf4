import AICompressCore
@testable import AICompressPasses
import XCTest

/// The int4 default (f16 scales, least-squares search over [-8, 7]) against llama.cpp's Q4_0
/// (Core's GGML quantizer, itself tested against gguf-py), the importance-weighted search against
/// a plain weighted-error oracle, f16 scale layouts, and the importance matrix's checks.
final class LeastSquaresQuantizationTests: XCTestCase {
    /// Heavy-tailed weights (a Gaussian times a per-column spread and a few outliers), closer to
    /// transformer weights than N(0, 1).
    static func heavyTailed(rows: Int, columns: Int) -> [Float] {
        let g = gaussianValues(rows * columns, seed: 99)
        return g.indices.map { k in
            let c = k % columns
            let spread: Float = 0.02 * (1 + Float((c * 37) % 11) / 4)
            return g[k] * spread * (k % 97 == 0 ? 6 : 1)
        }
    }

    /// Σ(x − x̂)² with x̂ decoded from a quantized tensor through `QuantizedLayout.value` (the
    /// DequantizeLinear arithmetic), weighted per element by `weight(k)`.
    static func decodedError(_ t: Tensor, _ x: [Float], weight: (Int) -> Double = { _ in 1 }) throws -> Double {
        let layout = try XCTUnwrap(t.quantizedLayout)
        return t.data.withUnsafeBytes { raw in
            x.indices.reduce(0.0) { e, k in
                let d = Double(x[k]) - Double(layout.value(raw, k))
                return e + weight(k) * d * d
            }
        }
    }

    /// Q4_0's squared error on `x` (rows of whole 32-value blocks).
    static func q4_0Error(_ x: [Float]) throws -> (error: Double, bytes: Int) {
        let bytes = try GGMLType.q4_0.quantize(x)
        let back = GGMLLayout.decode(.q4_0, TensorData(bytes: bytes), count: x.count)
        let e = back.withUnsafeBytes { raw in
            x.indices.reduce(0.0) { e, k in
                let d = Double(x[k]) - Double(raw.loadUnaligned(fromByteOffset: 4 * k, as: Float.self))
                return e + d * d
            }
        }
        return (e, bytes.count)
    }

    func testInt4DefaultIsMoreAccurateThanQ4_0AtTheSameSize() throws {
        for (name, x) in [("N(0,1)", SchemeListing.weights(count: 64 * 1024)), ("heavy-tailed", Self.heavyTailed(rows: 64, columns: 1024))] {
            let t = try Tensor(name: "w", shape: [64, 1024], floats: x)
            let (q, report) = try Quantize(scheme: .int4).quantize(t, role: .outputFirst)
            let ours = try Self.decodedError(q, x)
            let ref = try Self.q4_0Error(x)
            XCTAssertEqual(report.bitsPerWeight, 4.5, name)
            XCTAssertEqual(q.data.count, ref.bytes, "\(name): the same bytes as Q4_0")
            XCTAssertLessThan(ours, 0.96 * ref.error, "\(name): int4 \(ours) against Q4_0 \(ref.error)")
            // The previous default (min-max over [-7, 7], f32 scales) was worse than Q4_0 and larger.
            let (old, oldReport) = try Quantize(scheme: .int4, clip: .minMax, scaleType: .f32).quantize(t, role: .outputFirst)
            XCTAssertEqual(oldReport.bitsPerWeight, 5.0, name)
            XCTAssertGreaterThan(try Self.decodedError(old, x), ref.error, name)
        }
    }

    /// Per group, the search keeps Q4_0's own scale when nothing it tries is better: its error is
    /// never above that of the f16 scale max / -8 (integers rounded for that stored scale).
    func testSearchNeverLosesToTheSignedMaximumScaleOnAnyGroup() throws {
        let x = Self.heavyTailed(rows: 16, columns: 256)
        let t = try Tensor(name: "w", shape: [16, 256], floats: x)
        let (q, _) = try Quantize(scheme: .int4).quantize(t, role: .outputFirst)
        let layout = try XCTUnwrap(q.quantizedLayout)
        var lower = 0
        for g in 0..<(x.count / 32) {
            let group = Array(x[(32 * g)..<(32 * g + 32)])
            let peak = group.reduce(Float(0)) { abs($1) > abs($0) ? $1 : $0 }
            let s = Float(Float16(peak / -8))
            let plain = group.reduce(0.0) { e, v in
                let qv = min(max((v / s).rounded(.toNearestOrEven), -8), 7)
                return e + pow(Double(v) - Double(qv * s), 2)
            }
            let ours = q.data.withUnsafeBytes { raw in
                (0..<32).reduce(0.0) { e, i in e + pow(Double(group[i]) - Double(layout.value(raw, 32 * g + i)), 2) }
            }
            XCTAssertLessThanOrEqual(ours, plain, "group \(g)")
            if ours < plain { lower += 1 }
        }
        XCTAssertGreaterThan(lower, x.count / 32 / 2, "the search improves most groups")
    }

    /// The weighted search on the same groups: never a higher weighted error than the unweighted
    /// search, group by group (against the plain oracle), and lower in total.
    func testWeightedSearchNeverHasHigherWeightedError() throws {
        let rows = 24, columns = 128
        let x = Self.heavyTailed(rows: rows, columns: columns)
        let importance: [Float] = (0..<columns).map { c -> Float in c % 16 == 0 ? 50 : 0.1 + Float((c * 13) % 7) }
        let t = try Tensor(name: "w", shape: [rows, columns], floats: x)
        let matrix = try ImportanceMatrix(tensors: [
            try Tensor(name: "w.in_sum2", shape: [1, columns], floats: importance.map { $0 * 4 }),
            try Tensor(name: "w.counts", shape: [1, 1], floats: [4]),
        ], source: "test.gguf")
        XCTAssertEqual(matrix.columns["w"], importance)
        for scheme in [QuantizationScheme.int4, .uint4, .int8] {
            let plain = Quantize(scheme: scheme, clip: .leastSquares)
            let weighted = try plain.withImportance(matrix)
            let (a, _) = try plain.quantize(t, role: .outputFirst)
            let (b, _) = try weighted.quantize(t, role: .outputFirst)
            let w: (Int) -> Double = { Double(importance[$0 % columns]) }
            let layout = try XCTUnwrap(a.quantizedLayout)
            var groupError = [Double](repeating: 0, count: layout.scaleCount), weightedGroupError = groupError
            a.data.withUnsafeBytes { ra in
                b.data.withUnsafeBytes { rb in
                    for k in x.indices {
                        let s = layout.scaleIndex(k)
                        groupError[s] += w(k) * pow(Double(x[k]) - Double(layout.value(ra, k)), 2)
                        weightedGroupError[s] += w(k) * pow(Double(x[k]) - Double(layout.value(rb, k)), 2)
                    }
                }
            }
            for s in groupError.indices {
                XCTAssertLessThanOrEqual(weightedGroupError[s], groupError[s] * (1 + 1e-12), "\(scheme) group \(s)")
            }
            XCTAssertLessThan(try Self.decodedError(b, x, weight: w), 0.99 * (try Self.decodedError(a, x, weight: w)), "\(scheme)")
        }
    }

    func testF16ScaleLayoutAndOverflow() throws {
        let p = QuantizationParameters(storage: .int4, axis: 1, blockSize: 32, hasZeroPoint: false, scaleType: .f16)
        let layout = try QuantizedLayout(shape: [64, 128], parameters: p)
        XCTAssertEqual(layout.payloadBytes, 4096 + 256 * 2)
        XCTAssertEqual(layout.bitsPerWeight, 4.5)
        let odd = try QuantizedLayout(shape: [3, 5], parameters: .init(storage: .uint4, axis: 1, blockSize: 2, hasZeroPoint: true, scaleType: .f16))
        XCTAssertEqual(odd.payloadBytes, 8 + 9 * 2 + 5)
        // Every stored scale reads back as the f16 value the search chose.
        let x = gaussianValues(64 * 128, seed: 5, scale: 3)
        let (payload, params, _) = x.withUnsafeBufferPointer { IntegerQuantizer.quantize($0, layout: layout, symmetric: true, clip: .leastSquares) }
        payload.withUnsafeBytes { raw in
            for (s, q) in params.enumerated() {
                XCTAssertEqual(layout.scale(raw, s), q.scale)
                XCTAssertEqual(Float(Float16(q.scale)), q.scale)
            }
        }
        // Values whose scale exceeds f16's 65504 are refused, naming the tensor and the way out.
        let big = try Tensor(name: "huge", shape: [1, 32], floats: (0..<32).map { Float($0) * 1e5 })
        XCTAssertThrowsError(try Quantize(scheme: .int4).quantize(big, role: .outputFirst)) { error in
            guard case PassError.unsupported(let name, let reason)? = error as? PassError else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "huge")
            XCTAssertTrue(reason.contains("`scale-type` f32"), reason)
        }
        XCTAssertNoThrow(try Quantize(scheme: .int4, scaleType: .f32).quantize(big, role: .outputFirst))
    }

    func testImportanceMatrixChecks() throws {
        func entry(_ name: String, sums: [Float], counts: [Float]) throws -> [Tensor] {
            [try Tensor(name: name + ".in_sum2", shape: [1, sums.count], floats: sums),
             try Tensor(name: name + ".counts", shape: [counts.count, 1], floats: counts)]
        }
        let m = try ImportanceMatrix(tensors: try entry("a", sums: [2, 4, 6], counts: [2]) + entry("b", sums: [3, 3], counts: [0]),
                                     source: "m.gguf")
        XCTAssertEqual(m.columns["a"], [1, 2, 3])
        XCTAssertEqual(m.columns["b"], [1, 1], "nothing counted: weight 1, as llama-quantize")
        XCTAssertEqual(try ImportanceMatrix(tensors: try entry("e", sums: [1, 2, 3, 4], counts: [1, 2]), source: "m").multiMatrix, ["e"])
        func refused(_ tensors: [Tensor], _ text: String) {
            XCTAssertThrowsError(try ImportanceMatrix(tensors: tensors, source: "m.gguf")) { XCTAssertTrue("\($0)".contains(text), "\($0)") }
        }
        refused([try Tensor(name: "w", shape: [2], floats: [1, 2])], "no NAME.in_sum2 tensors")
        refused(Array(try entry("a", sums: [1, 2], counts: [1]).prefix(1)), "in_sum2 but no counts")
        refused(try entry("a", sums: [1, 2, 3], counts: [1, 1]), "3 sums do not divide into 2 matrices")
        refused(try entry("a", sums: [1, -2], counts: [1]), "finite and non-negative")
        refused([try Tensor(name: "a.in_sum2", dtype: .f16, shape: [2], data: TensorData(values: [UInt16(0x3C00), 0x3C00])),
                 try Tensor(name: "a.counts", shape: [1], floats: [1])], "dense f32")
        // The pass: columns must match the input axis; an entry for no selected tensor is refused.
        let t = try Tensor(name: "a", shape: [2, 4], floats: [1, 2, 3, 4, 5, 6, 7, 8])
        let pass = try Quantize(scheme: .int4).withImportance(m)
        XCTAssertThrowsError(try pass.quantize(t, role: .outputFirst)) { XCTAssertTrue("\($0)".contains("has 3 columns"), "\($0)") }
        var model = Model()
        try model.append(try Tensor(name: "other", shape: [2, 32], floats: gaussianValues(64, seed: 1)))
        XCTAssertThrowsError(try pass.apply(model)) { XCTAssertTrue("\($0)".contains("names none of the 1 selected tensors"), "\($0)") }
        XCTAssertThrowsError(try Quantize(scheme: .int4, clip: .minMax).withImportance(m))
        XCTAssertThrowsError(try Quantize(scheme: .fp16).withImportance(m))
    }
}
