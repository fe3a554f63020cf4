import AICompressCore
@testable import AICompressPasses
import XCTest

/// The scheme table (`QuantizationScheme.all`) tested as a whole, as llama.cpp's
/// test-quantize-fns loops over ggml's type traits: a scheme added to the table is tested here
/// without a line of test code.
final class SchemeTableTests: XCTestCase {
    /// An integer layout to run every integer scheme with: name, shape, scale axis, block size.
    typealias Layout = (name: String, shape: Shape, axis: Int?, blockSize: Int)

    static let layouts: [Layout] = [
        ("per-tensor", [37, 53], nil, 0),
        ("per-tensor, several runs", [2, 4500], nil, 0),
        ("per-channel, axis 0", [37, 53], 0, 0),
        ("per-channel, axis 0 of a conv weight", [6, 5, 3, 3], 0, 0),
        ("per-channel, last axis", [37, 53], 1, 0),
        ("per-channel, inner axis", [6, 5, 3, 3], 1, 0),
        ("per-channel, inner axis, many outer pieces", [20, 33, 7], 1, 0),
        ("groups along the last axis (53 = 3 × 16 + 5)", [37, 53], 1, 16),
        ("groups along the last axis, many pieces", [90, 70], 1, 32),
        ("groups along an inner axis (5 = 2 × 2 + 1)", [6, 5, 3, 3], 1, 2),
        ("groups along axis 0 (37 = 4 × 8 + 5)", [37, 53], 0, 8),
        ("odd element count, odd group count", [3, 5], 1, 2),
        ("one element", [1, 1], 0, 0),
        ("group longer than the axis", [4, 1], 1, 32),
    ]

    /// Values for the comparisons: roughly Gaussian, with exact ties at half steps and exact zeros.
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var v = gaussianValues(n, seed: seed)
        for k in stride(from: 0, to: n, by: 7) { v[k] = Float(k % 13) * 0.125 - 0.75 }
        for k in stride(from: 3, to: n, by: 11) { v[k] = 0 }
        return v
    }

    /// Float values that test a cast's rounding: ties to even, subnormals, overflow, signed zeros.
    static let castEdges: [Float] = [
        0, -0.0, 1, -1, 65504, 65519.996, 65520, -65520, 1e5, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
        1 + 0x1p-11, 1 + 3 * 0x1p-11, 0x1p-24, 0x1p-25, 3 * 0x1p-26, 0x1p-14, 0x1p-15 + 0x1p-25, 1e-30,
        .leastNonzeroMagnitude, .leastNormalMagnitude, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000),
        Float(bitPattern: 0x7F7F_8000), Float(bitPattern: 0x0000_8000), Float(bitPattern: 0x8001_8000), 3.14159265,
    ]

    /// Every scheme of the table: its fast path equals its independent reference bit for bit (every
    /// granularity, symmetric and asymmetric, every clipping method; casts on edge values), the
    /// error figures agree, bits per weight follow the record's formula, and the default settings
    /// meet the scheme's named error budget on N(0, 1) weights.
    func testEverySchemeMatchesItsReferenceAndMeetsItsBudget() throws {
        XCTAssertEqual(Set(QuantizationScheme.all.map(\.id)).count, QuantizationScheme.all.count, "ids are unique")
        let budgetWeights = try Tensor(name: "w", shape: [32, 4096], floats: SchemeListing.weights(count: 32 * 4096))
        for scheme in QuantizationScheme.all {
            switch scheme.representation {
            case .integer(let storage):
                for (index, layout) in Self.layouts.enumerated() {
                    let values = Self.values(layout.shape.elementCount, seed: UInt64(index + 1))
                    for symmetric in [true, false] {
                        for scaleType in QuantizedScale.allCases {
                            let params = QuantizationParameters(storage: storage, axis: layout.axis, blockSize: layout.blockSize,
                                                                hasZeroPoint: scheme.storesZeroPoints(symmetric: symmetric),
                                                                scaleType: scaleType)
                            // Clipping gathers groups on another path; MSE (51 trial ranges) on the small
                            // layouts, the least-squares search (about 40 trials, slow in the plain
                            // reference of a debug build) with f16 scales on all but the per-tensor ones.
                            var clips: [ClipMethod] = [.minMax, .percentile(symmetric ? 99 : 97.5)]
                            if layout.shape.elementCount <= 300 { clips.append(.mse) }
                            if (layout.axis != nil && scaleType == .f16) || layout.shape.elementCount <= 300 { clips.append(.leastSquares) }
                            for clip in clips {
                                var request = QuantizationRequest(shape: layout.shape, parameters: params, symmetric: symmetric, clip: clip)
                                let what = "\(scheme) \(layout.name) symmetric=\(symmetric) clip=\(clip) scales=\(scaleType)"
                                try compare(scheme, values, request, what)
                                // Importance weights along the last axis (zeros among them), for the weighted search.
                                guard clip == .leastSquares, layout.shape.elementCount <= 2000 else { continue }
                                let axis = layout.shape.rank - 1, n = layout.shape.dims[axis]
                                request.importance = try .init((0..<n).map { Float(($0 * 7) % 5) * 0.5 }, axis: axis,
                                                               shape: layout.shape, tensor: "w")
                                try compare(scheme, values, request, what + " weighted")
                            }
                        }
                    }
                }
            case .float:
                for (index, shape) in ([[37, 53], [4, 1024], [Self.castEdges.count]] as [Shape]).enumerated() {
                    let values = index == 2 ? Self.castEdges
                        : gaussianValues(shape.elementCount, seed: UInt64(index + 1), scale: index == 0 ? 1 : 1e-4)
                    try compare(scheme, values, QuantizationRequest(shape: shape), "\(scheme) \(shape)")
                }
            }
            try checkBudget(scheme, on: budgetWeights)
        }
    }

    /// Fast path and reference on one request: the same bytes and figures.
    func compare(_ scheme: QuantizationScheme, _ values: [Float], _ request: QuantizationRequest, _ what: String) throws {
        let fast = try values.withUnsafeBufferPointer { try scheme.quantize($0, request) }
        let reference = try scheme.reference(values, request)
        XCTAssertEqual(Array(fast.payload.bytes), Array(reference.payload.bytes), what)
        let (f, r) = (fast.figures, reference.figures)
        XCTAssertEqual(f.elements, values.count, what)
        XCTAssertEqual(f.elements, r.elements, what)
        XCTAssertEqual(f.zerosAfter, r.zerosAfter, what)
        // The fast path sums each run in float lanes, so only the sums differ, in rounding.
        for (a, b, name) in [(f.signal, r.signal, "Σx²"), (f.error, r.error, "Σe²"), (f.maxAbs, r.maxAbs, "max|e|")] {
            if a.isInfinite || b.isInfinite {
                XCTAssertEqual(a, b, "\(what) \(name)")
            } else {
                XCTAssertEqual(a, b, accuracy: 1e-4 * max(abs(b), 1e-30), "\(what) \(name)")
            }
        }
    }

    /// The default settings on N(0, 1) weights [32, 4096] through the pass: at least the budget's
    /// SQNR, and bits per weight as the record computes them.
    func checkBudget(_ scheme: QuantizationScheme, on weights: Tensor) throws {
        let pass = Quantize(scheme: scheme)
        let (_, report) = try pass.quantize(weights, role: .outputFirst)
        XCTAssertGreaterThanOrEqual(report.sqnr, scheme.budget.minimumSQNR,
                                    "\(scheme.budget.name): \(scheme) reaches \(report.sqnr) dB")
        let weightsPerScale: Int
        switch pass.granularity {
        case .perTensor: weightsPerScale = weights.elementCount
        case .perChannel: weightsPerScale = weights.shape.dims[1]
        case .group(let n): weightsPerScale = n
        }
        XCTAssertEqual(report.bitsPerWeight, scheme.bitsPerWeight(weightsPerScale: weightsPerScale, symmetric: pass.symmetric,
                                                                  scaleType: pass.scaleType),
                       accuracy: 1e-12, "\(scheme) bits per weight")
    }
}
