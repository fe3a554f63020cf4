import AICompressCore
@testable import AICompressPasses
import XCTest

final class QuantizedLayoutTests: XCTestCase {
    /// Each layout's size (and so bits per weight) is what the spec says.
    func testLayoutSizes() throws {
        let shape: Shape = [64, 128]
        let int8PerChannel = try QuantizedLayout(shape: shape, parameters: .init(storage: .int8, axis: 0, hasZeroPoint: false))
        XCTAssertEqual(int8PerChannel.payloadBytes, 64 * 128 + 64 * 4)
        XCTAssertEqual(int8PerChannel.bitsPerWeight, 8.25)
        let uint8PerTensor = try QuantizedLayout(shape: shape, parameters: .init(storage: .uint8, axis: nil, hasZeroPoint: true))
        XCTAssertEqual(uint8PerTensor.payloadBytes, 8192 + 4 + 1)
        let int4g32 = try QuantizedLayout(shape: shape, parameters: .init(storage: .int4, axis: 1, blockSize: 32, hasZeroPoint: false))
        XCTAssertEqual(int4g32.scaleShape, [64, 4])
        XCTAssertEqual(int4g32.payloadBytes, 4096 + 256 * 4)
        XCTAssertEqual(int4g32.bitsPerWeight, 5.0)
        let uint4odd = try QuantizedLayout(shape: [3, 5], parameters: .init(storage: .uint4, axis: 1, blockSize: 2, hasZeroPoint: true))
        XCTAssertEqual(uint4odd.scaleShape, [3, 3])
        XCTAssertEqual(uint4odd.integerBytes, 8)  // ceil(15 / 2)
        XCTAssertEqual(uint4odd.scalesOffset, 8)
        XCTAssertEqual(uint4odd.payloadBytes, 8 + 9 * 4 + 5)  // 9 zero points packed in 5 bytes
        XCTAssertThrowsError(try QuantizedLayout(shape: shape, parameters: .init(storage: .int8, axis: 2, hasZeroPoint: false)))
    }

    /// Scale indices follow ONNX DequantizeLinear's blocked semantics.
    /// A group longer than the reduction axis (a depthwise-like conv weight [8, 1, 3, 3]) falls
    /// back to one scale per output channel, so 4-bit quantization never grows the tensor.
    func testShortReductionAxisFallsBackToPerChannel() throws {
        var m = try Model(tensors: [try Tensor(name: "conv.weight", shape: [8, 1, 3, 3], floats: gaussianValues(72, seed: 3))])
        m.graph = Graph(nodes: [Node(opType: "Conv", inputs: ["x", "conv.weight"], outputs: ["y"])])
        let (out, report) = try Quantize(scheme: .int4).apply(m)
        let t = out.tensor(named: "conv.weight")!
        XCTAssertEqual(t.quantizedLayout?.parameters.axis, 0)
        XCTAssertEqual(t.quantizedLayout?.parameters.blockSize, 0)
        XCTAssertLessThan(t.storedBytes, 288)
        XCTAssertEqual(report.tensors.first?.scheme, "int4 per-channel (axis 0), f16 scales")
    }

    func testScaleIndexing() throws {
        let l = try QuantizedLayout(shape: [4, 6], parameters: .init(storage: .int4, axis: 0, blockSize: 3, hasZeroPoint: false))
        XCTAssertEqual(l.scaleShape, [2, 6])
        XCTAssertEqual((0..<24).map(l.scaleIndex), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        let c = try QuantizedLayout(shape: [2, 3], parameters: .init(storage: .int8, axis: 1, hasZeroPoint: false))
        XCTAssertEqual((0..<6).map(c.scaleIndex), [0, 1, 2, 0, 1, 2])
    }
}

final class QuantizationMathTests: XCTestCase {
    /// Known vectors, computed with onnxruntime's formulas (quant_utils.compute_scale_zp and
    /// quantize_nparray) in numpy.
    func testKnownVectors() {
        // int8 symmetric: [-1, 0.5, 2] -> absmax 2, scale 2/127, q = round(x / scale).
        let p = QuantizationMath.parameters(rmin: -1, rmax: 2, storage: .int8, symmetric: true)
        XCTAssertEqual(p.scale, Float(2.0 / 127.0))
        XCTAssertEqual(p.zeroPoint, 0)
        XCTAssertEqual([-1, 0.5, 2].map { QuantizationMath.quantize($0, p, .int8) }, [-64, 32, 127])
        // uint8 asymmetric on [-1, 3]: scale 4/255, zp = round(0 - (-1)/scale) = round(63.75) = 64.
        let u = QuantizationMath.parameters(rmin: -1, rmax: 3, storage: .uint8, symmetric: false)
        XCTAssertEqual(u.scale, Float(4.0 / 255.0))
        XCTAssertEqual(u.zeroPoint, 64)
        XCTAssertEqual([-1, 0, 3].map { QuantizationMath.quantize($0, u, .uint8) }, [0, 64, 255])
        // Range widened to include 0: [2, 4] quantizes as [0, 4].
        let w = QuantizationMath.parameters(rmin: 2, rmax: 4, storage: .uint8, symmetric: false)
        XCTAssertEqual(w.zeroPoint, 0)
        XCTAssertEqual(w.scale, Float(4.0 / 255.0))
        // All zero: scale 1, zero point 0 (onnxruntime's rule for a range below float's tiny).
        XCTAssertEqual(QuantizationMath.parameters(rmin: 0, rmax: 0, storage: .int8, symmetric: true), QuantParams(scale: 1, zeroPoint: 0))
        // Round half to even: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2.
        let unit = QuantParams(scale: 1, zeroPoint: 0)
        XCTAssertEqual([2.5, 3.5, -2.5, 0.5, 1.5].map { QuantizationMath.quantize($0, unit, .int8) }, [2, 4, -2, 0, 2])
        // uint8 symmetric: zero point round((0 + 255) / 2) = 128 (half to even).
        XCTAssertEqual(QuantizationMath.parameters(rmin: -1, rmax: 1, storage: .uint8, symmetric: true).zeroPoint, 128)
        // int4 symmetric uses [-7, 7].
        XCTAssertEqual(QuantizationMath.parameters(rmin: -7, rmax: 3.5, storage: .int4, symmetric: true).scale, 1)
    }

    func testFastRoundingEqualsRint() {
        for y in stride(from: Float(-300), through: 300, by: 0.125) {
            XCTAssertEqual(IntegerQuantizer.roundHalfEven(y), y.rounded(.toNearestOrEven), "\(y)")
        }
    }
}

final class IntegerQuantizerTests: XCTestCase {
    static let cases: [(Shape, QuantizationParameters)] = [
        ([37, 53], .init(storage: .int8, axis: nil, hasZeroPoint: false)),
        ([37, 53], .init(storage: .uint8, axis: nil, hasZeroPoint: true)),
        ([37, 53], .init(storage: .int8, axis: 0, hasZeroPoint: false)),
        ([37, 53], .init(storage: .int8, axis: 1, hasZeroPoint: false)),
        ([37, 53], .init(storage: .uint8, axis: 1, hasZeroPoint: true)),
        ([37, 53], .init(storage: .int4, axis: 1, blockSize: 16, hasZeroPoint: false)),
        ([37, 53], .init(storage: .int4, axis: 0, blockSize: 8, hasZeroPoint: false)),
        ([37, 53], .init(storage: .uint4, axis: 0, blockSize: 32, hasZeroPoint: true)),
        ([6, 5, 3, 3], .init(storage: .int8, axis: 0, hasZeroPoint: false)),
        ([6, 5, 3, 3], .init(storage: .uint4, axis: 1, blockSize: 2, hasZeroPoint: true)),
        ([1, 1], .init(storage: .int8, axis: 0, hasZeroPoint: false)),
        ([4, 1], .init(storage: .int4, axis: 1, blockSize: 32, hasZeroPoint: false)),
    ]

    /// The fast path equals the plain reference bit for bit, and every in-range value is within
    /// half a step of its original.
    func testFastPathEqualsReferenceAndErrorBound() throws {
        for (index, (shape, params)) in Self.cases.enumerated() {
            var values = gaussianValues(shape.elementCount, seed: UInt64(index + 1))
            // Exact ties at half steps, and exact zeros.
            for k in stride(from: 0, to: values.count, by: 7) { values[k] = Float(k % 13) * 0.125 - 0.75 }
            for k in stride(from: 3, to: values.count, by: 11) { values[k] = 0 }
            for symmetric in [true, false] where symmetric || params.storage == .uint8 || params.storage == .uint4 {
                let layout = try QuantizedLayout(shape: shape, parameters: params)
                let (payload, qp, figures) = values.withUnsafeBufferPointer {
                    IntegerQuantizer.quantize($0, layout: layout, symmetric: symmetric, clip: .minMax)
                }
                // The independent reference derives its own scales; the payloads agree byte for byte.
                let request = QuantizationRequest(shape: shape, parameters: params, symmetric: symmetric)
                let referencePayload = try IntegerReference.quantize(values, request).payload
                let stored = payload.bytes
                XCTAssertEqual(Array(stored), Array(referencePayload.bytes), "case \(index) symmetric \(symmetric)")
                let referenceBytes = referencePayload.bytes
                let reference = (0..<values.count).map { QuantizedLayout.integer(referenceBytes, base: 0, $0, params.storage) }
                var worst = 0.0
                for k in values.indices {
                    // The reference's own scale, so a step the fast path made too wide cannot widen the bound.
                    let s = layout.scaleIndex(k)
                    let p = QuantParams(scale: layout.scale(referenceBytes, s), zeroPoint: layout.zeroPoint(referenceBytes, s))
                    XCTAssertEqual(p, qp[s], "case \(index) group \(s)")
                    let back = layout.value(stored, k)
                    XCTAssertEqual(back, QuantizationMath.dequantize(reference[k], p))
                    if values[k] == 0 { XCTAssertEqual(back, 0, "zero stays exactly zero") }
                    // Half a step, plus the float32 rounding of (q - zp) × scale itself.
                    let bound = Double(p.scale) / 2 * (1 + 1e-6) + abs(Double(values[k])) * 4e-7
                    XCTAssertLessThanOrEqual(abs(Double(values[k]) - Double(back)), bound, "case \(index) k \(k)")
                    worst = max(worst, abs(Double(values[k]) - Double(back)))
                }
                XCTAssertEqual(figures.maxAbs, worst, accuracy: 1e-12)
                XCTAssertEqual(figures.elements, values.count)
            }
        }
    }

    /// The 4-bit packing: element 2k in the low nibble, signed values in two's complement.
    func testFourBitPacking() throws {
        let layout = try QuantizedLayout(shape: [5], parameters: .init(storage: .int4, axis: nil, hasZeroPoint: false))
        let values: [Float] = [-7, -1, 0, 1, 7]
        let (payload, qp, _) = values.withUnsafeBufferPointer { IntegerQuantizer.quantize($0, layout: layout, symmetric: true, clip: .minMax) }
        XCTAssertEqual(qp, [QuantParams(scale: 1, zeroPoint: 0)])
        XCTAssertEqual(Array(payload.bytes[0..<3]), [0xF9, 0x10, 0x07])
    }

    func testClippingMethods() throws {
        var values = gaussianValues(4096, seed: 9)
        values[17] = 40  // an outlier
        let layout = try QuantizedLayout(shape: [4096], parameters: .init(storage: .int8, axis: nil, hasZeroPoint: false))
        func run(_ clip: ClipMethod) -> (QuantParams, ErrorFigures) {
            let (_, qp, e) = values.withUnsafeBufferPointer { IntegerQuantizer.quantize($0, layout: layout, symmetric: true, clip: clip) }
            return (qp[0], e)
        }
        let (minmax, e1) = run(.minMax)
        let (pct, _) = run(.percentile(99))
        let (mse, e3) = run(.mse)
        XCTAssertEqual(minmax.scale, 40 / 127)
        XCTAssertLessThan(pct.scale, minmax.scale / 10, "the outlier no longer sets the range")
        XCTAssertLessThanOrEqual(e3.error, e1.error, "the MSE search never does worse than min-max")
        XCTAssertLessThan(mse.scale, minmax.scale)
    }
}

final class QuantizePassTests: XCTestCase {
    func model() throws -> Model {
        let w1 = try Tensor(name: "fc1.weight", shape: [16, 64], floats: gaussianValues(1024, seed: 1))
        let b1 = try Tensor(name: "fc1.bias", shape: [16], floats: gaussianValues(16, seed: 2))
        let emb = try Tensor(name: "embed.weight", shape: [10, 8], floats: gaussianValues(80, seed: 3))
        return try Model(tensors: [w1, b1, emb])
    }

    func testDefaultsSelectionAndProvenance() throws {
        let (out, report) = try Quantize(scheme: .int8).apply(try model())
        XCTAssertEqual(report.tensors.map(\.name), ["fc1.weight"], "1-D and embeddings are skipped")
        guard case .quantized(let q) = out.tensor(named: "fc1.weight")!.encoding else { return XCTFail() }
        XCTAssertEqual(q, QuantizationParameters(storage: .int8, axis: 0, hasZeroPoint: false))
        XCTAssertTrue(out.tensor(named: "fc1.bias")!.isDense)
        XCTAssertEqual(out.metadata["aicompress.step.000"],
                       "quantize scheme=int8 granularity=per-channel symmetric=true clip=minmax")
        XCTAssertGreaterThan(report.tensors[0].sqnr, 35)
        XCTAssertEqual(report.tensors[0].bytesAfter, 1024 + 16 * 4)
    }

    func testGraphDecidesAxes() throws {
        var m = try model()
        let w = try Tensor(name: "w", shape: [64, 16], floats: gaussianValues(1024, seed: 4))
        try m.append(w)
        m.graph = Graph(nodes: [Node(opType: "MatMul", inputs: ["x", "w"], outputs: ["y"]),
                                Node(opType: "Gemm", inputs: ["y", "fc1.weight"], outputs: ["z"], attributes: [Attribute(name: "transB", value: .int(1))])])
        let (out, _) = try Quantize(scheme: .int4, selection: TensorSelection(include: ["w", "fc1.weight"])).apply(m)
        guard case .quantized(let a) = out.tensor(named: "w")!.encoding, case .quantized(let b) = out.tensor(named: "fc1.weight")!.encoding else {
            return XCTFail()
        }
        XCTAssertEqual(a.axis, 0, "MatMul B [K, N]: groups along K")
        XCTAssertEqual(b.axis, 1, "Gemm transB [N, K]: groups along K")
        let (pc, _) = try Quantize(scheme: .int8, selection: TensorSelection(include: ["w"])).apply(m)
        guard case .quantized(let c) = pc.tensor(named: "w")!.encoding else { return XCTFail() }
        XCTAssertEqual(c.axis, 1, "MatMul B: per output channel is axis 1")
    }

    func testNaNIsAClearError() throws {
        var v = gaussianValues(64, seed: 5)
        v[3] = .nan
        let m = try Model(tensors: [try Tensor(name: "bad", shape: [8, 8], floats: v)])
        XCTAssertThrowsError(try Quantize(scheme: .int8).apply(m)) {
            XCTAssertEqual($0 as? PassError, .nonFinite(tensor: "bad", count: 1, pass: "quantize"))
        }
    }

    func testEdgeCases() throws {
        let zeros = try Tensor(name: "zeros", shape: [4, 4], floats: [Float](repeating: 0, count: 16))
        let constant = try Tensor(name: "constant", shape: [4, 4], floats: [Float](repeating: 0.3, count: 16))
        let denormal = try Tensor(name: "denormal", shape: [2, 2], floats: [1e-45, -1e-45, 0, 1e-44])
        let oneWide = try Tensor(name: "onewide", shape: [3, 1], floats: [1, -2, 3])
        let m = try Model(tensors: [zeros, constant, denormal, oneWide])
        // [3, 1] has one dimension longer than 1: a vector, selected only with 1-D tensors.
        let withVectors = TensorSelection(includeOneDimensional: true)
        for scheme in Quantize.Scheme.allCases {
            let (skipped, _) = try Quantize(scheme: scheme).apply(m)
            XCTAssertEqual(skipped.tensor(named: "onewide")?.isDense, true, "\(scheme): [3, 1] skipped by default")
            let (out, report) = try Quantize(scheme: scheme, selection: withVectors).apply(m)
            XCTAssertEqual(report.tensors.count, 4, "\(scheme)")
            XCTAssertEqual(out.tensor(named: "zeros")!.doubleValues(), [Double](repeating: 0, count: 16))
            for v in out.tensor(named: "constant")!.doubleValues() { XCTAssertEqual(v, 0.3, accuracy: 0.3 / 7) }
            XCTAssertEqual(out.tensor(named: "onewide")!.doubleValues().count, 3)
        }
        // Per channel with one element per channel is exact for 8-bit symmetric.
        let (exact, _) = try Quantize(scheme: .int8, selection: withVectors).apply(try Model(tensors: [oneWide]))
        XCTAssertEqual(exact.tensor(named: "onewide")!.doubleValues(), [1, -2, 3])
    }

    func testNothingSelectedIsAnError() throws {
        let m = try Model(tensors: [try Tensor(name: "b", shape: [4], floats: [1, 2, 3, 4])])
        XCTAssertThrowsError(try Quantize(scheme: .int8).apply(m)) {
            guard case .nothingSelected = $0 as? PassError else { return XCTFail("\($0)") }
        }
    }

    func testDequantizeGivesTheDequantizedValues() throws {
        let (q, _) = try Quantize(scheme: .uint4).apply(try model())
        let (d, _) = try Dequantize().apply(q)
        let original = q.tensor(named: "fc1.weight")!
        let back = d.tensor(named: "fc1.weight")!
        XCTAssertTrue(back.isDense)
        XCTAssertEqual(back.doubleValues(), original.doubleValues())
    }

    func testHalfPrecisionCastsAndGraphCasts() throws {
        var m = try model()
        m.graph = Graph(nodes: [Node(opType: "MatMul", inputs: ["x", "fc1.weight"], outputs: ["y"])])
        let (out, report) = try Quantize(scheme: .fp16).apply(m)
        XCTAssertEqual(out.tensor(named: "fc1.weight")!.dtype, .f16)
        XCTAssertEqual(report.tensors[0].bytesAfter, 2048)
        let nodes = out.graph!.nodes
        XCTAssertEqual(nodes.map(\.opType), ["Cast", "MatMul"])
        XCTAssertEqual(nodes[1].inputs, ["x", nodes[0].outputs[0]])
        XCTAssertGreaterThan(report.tensors[0].sqnr, 60)
        let (bf, _) = try Quantize(scheme: .bf16).apply(m)
        XCTAssertEqual(bf.tensor(named: "fc1.weight")!.dtype, .bf16)
    }

    func testSelectionGlobs() throws {
        let m = try model()
        let s = TensorSelection(include: ["*.weight"], exclude: ["embed.*"])
        XCTAssertEqual(m.tensors.filter { s.selects($0) }.map(\.name), ["fc1.weight"])
        let all = TensorSelection(includeOneDimensional: true, includeEmbeddings: true)
        XCTAssertEqual(m.tensors.filter { all.selects($0) }.count, 3)
    }
}
