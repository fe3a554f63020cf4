import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// The output head's calibration statistics (`LayerwiseDecoderStream`'s `head`): equal to a
/// reference in Double computed from explicitly made final hidden states — the decoder's own
/// when no block is compressed, and those of the blocks run with their replacement weights when
/// they are — gathered once, after the last block.
final class DecoderHeadStatisticsTests: XCTestCase {
    var sequences: [[Int32]] { LayerwiseDecoderStreamTests.sequences }
    func calibration() throws -> LayerwiseDecoderCalibration { try LayerwiseDecoderStreamTests.calibration() }

    /// Σx² and XᵀX in Double of the final RMSNorm (in Double) of `hidden` (one array per sequence).
    static func reference(_ hidden: [[Float]], norm w: [Float], eps: Float) -> (sums: [Double], gram: [Double], rows: Int) {
        let e = w.count
        var sums = [Double](repeating: 0, count: e), gram = [Double](repeating: 0, count: e * e), rows = 0
        for h in hidden {
            for r in 0..<(h.count / e) {
                let x = (0..<e).map { Double(h[r * e + $0]) }
                let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(e) + Double(eps)).squareRoot()
                let y = (0..<e).map { x[$0] * scale * Double(w[$0]) }
                for i in 0..<e {
                    sums[i] += y[i] * y[i]
                    for j in 0..<e { gram[i * e + j] += y[i] * y[j] }
                }
                rows += 1
            }
        }
        return (sums, gram, rows)
    }

    /// The head's statistics from a stream whose blocks `compress` replaces (nothing: `[:]`), and
    /// how many times the head closure ran.
    func headStatistics(_ c: LayerwiseDecoderCalibration,
                        _ compress: @escaping (DecoderBlockCalibration) -> [ActivationSite.Kind: [Float]]) throws
        -> (DecoderHeadStatistics, calls: Int, blocksWhenCalled: Int) {
        var got: DecoderHeadStatistics?, calls = 0, blocksWhenCalled = -1, blocksRun = 0
        let stream = LayerwiseDecoderStream<[Float]>(c, blocks: ["output.weight": 3], head: { s in
            got = s
            calls += 1
            blocksWhenCalled = blocksRun
            return ["output.weight": [Float(s.rows)]]
        }) { block in
            blocksRun += 1
            return (compress(block), [:])
        }
        XCTAssertEqual(try stream.take("output.weight"), [Float(sequences.count * DecoderTests.tokens.count)])
        XCTAssertNil(try stream.take("output.weight"), "handed out once")
        return (try XCTUnwrap(got), calls, blocksWhenCalled)
    }

    func assertClose(_ s: DecoderHeadStatistics, _ ref: (sums: [Double], gram: [Double], rows: Int), _ what: String) throws {
        XCTAssertEqual(s.rows, ref.rows, what)
        XCTAssertEqual(s.columns, 64, what)
        let gram = try XCTUnwrap(s.gram)
        let scale = ref.gram.map(abs).max()!
        XCTAssertGreaterThan(scale, 1, what)
        let sumErr = zip(s.sumSquares, ref.sums).map { abs($0 - $1) }.max()!
        let gramErr = zip(gram, ref.gram).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(sumErr / scale, 2e-6, "\(what): Σx²")
        XCTAssertLessThan(gramErr / scale, 2e-6, "\(what): XᵀX")
        XCTAssertEqual(s.meanSquares.count, 64)
        XCTAssertEqual(Double(s.meanSquares[5]), ref.sums[5] / Double(ref.rows), accuracy: 1e-5 * scale / Double(ref.rows))
    }

    func testUncompressedBlocksGiveTheDecodersOwnFinalHiddenStates() throws {
        let c = try calibration()
        let (s, calls, blocks) = try headStatistics(c) { _ in [:] }
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(blocks, 3, "the head runs after the last block")
        let ref = Self.reference(try preNorm(c, compress: { _ in [:] }), norm: c.decoder.weights.outputNorm,
                                 eps: c.decoder.config.rmsEpsilon)
        try assertClose(s, ref, "uncompressed")
        // The decoder's own final normalised states (`hiddenStates`), summed in Double, agree.
        let e = 64, explicit = try sequences.map { try c.decoder.hiddenStates($0) }
        var direct = [Double](repeating: 0, count: e * e)
        for h in explicit {
            for r in 0..<(h.count / e) { for i in 0..<e { for j in 0..<e { direct[i * e + j] += Double(h[r * e + i]) * Double(h[r * e + j]) } } }
        }
        let gram = try XCTUnwrap(s.gram)
        XCTAssertLessThan(zip(direct, gram).map { abs($0 - $1) }.max()! / direct.map(abs).max()!, 2e-6, "hiddenStates' own XᵀX")
    }

    func testCompressedBlocksAreWhatTheHeadIsCalibratedOn() throws {
        let c = try calibration()
        let compress = LayerwiseDecoderStreamTests.compress
        let (s, calls, _) = try headStatistics(c, compress)
        XCTAssertEqual(calls, 1)
        let ref = Self.reference(try preNorm(c, compress: compress), norm: c.decoder.weights.outputNorm, eps: c.decoder.config.rmsEpsilon)
        try assertClose(s, ref, "compressed")
        // And not those of the original blocks.
        let original = Self.reference(try preNorm(c, compress: { _ in [:] }), norm: c.decoder.weights.outputNorm, eps: c.decoder.config.rmsEpsilon)
        XCTAssertGreaterThan(zip(s.sumSquares, original.sums).map { abs($0 - $1) }.max()! / original.sums.max()!, 1e-3)
    }

    func testNoHeadWithoutSequencesAndDeterministic() throws {
        let c = try calibration()
        let a = try headStatistics(c, LayerwiseDecoderStreamTests.compress).0
        let b = try headStatistics(c, LayerwiseDecoderStreamTests.compress).0
        XCTAssertEqual(a.gram, b.gram)
        XCTAssertEqual(a.sumSquares, b.sumSquares)
        let empty = LayerwiseDecoderCalibration(decoder: c.decoder, sequences: [])
        var calls = 0
        let stream = LayerwiseDecoderStream<[Float]>(empty, blocks: ["output.weight": 3], head: { _ in calls += 1; return [:] }) { _ in ([:], [:]) }
        XCTAssertNil(try stream.take("output.weight"))
        XCTAssertEqual(calls, 0, "no calibration rows: the head is left to round-to-nearest")
    }

    /// With dense targets the head's statistics carry ΔᵀX, Δ the unchanged model's final norm
    /// minus the compressed blocks' (both made explicitly, summed in Double); none when no block
    /// is compressed (the two inputs are equal).
    func testDenseTargetsGiveTheHeadTheShiftOfItsInput() throws {
        let plain = try calibration()
        let c = LayerwiseDecoderCalibration(decoder: plain.decoder, sequences: sequences, gram: true, denseTargets: true)
        let (s, calls, _) = try headStatistics(c, LayerwiseDecoderStreamTests.compress)
        XCTAssertEqual(calls, 1)
        let d = c.decoder, e = d.config.embedding, w = d.weights.outputNorm, eps = Double(d.config.rmsEpsilon)
        func normed(_ hidden: [[Float]]) -> [[Double]] {
            hidden.flatMap { h in
                (0..<(h.count / e)).map { r -> [Double] in
                    let x = (0..<e).map { Double(h[r * e + $0]) }
                    let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(e) + eps).squareRoot()
                    return (0..<e).map { x[$0] * scale * Double(w[$0]) }
                }
            }
        }
        let x = normed(try preNorm(c, compress: LayerwiseDecoderStreamTests.compress)), dense = normed(try preNorm(c, compress: { _ in [:] }))
        var ref = [Double](repeating: 0, count: e * e)
        for (y, z) in zip(x, dense) { for i in 0..<e { for j in 0..<e { ref[i * e + j] += (z[i] - y[i]) * y[j] } } }
        let cross = try XCTUnwrap(s.cross), scale = ref.map(abs).max()!
        XCTAssertGreaterThan(scale, 1e-2)
        XCTAssertLessThan(zip(cross, ref).map { abs($0 - $1) }.max()! / scale, 1e-4, "ΔᵀX")
        try assertClose(s, Self.reference(try preNorm(c, compress: LayerwiseDecoderStreamTests.compress), norm: w, eps: d.config.rmsEpsilon),
                        "compressed, dense targets")
        XCTAssertNil(try headStatistics(c) { _ in [:] }.0.cross, "nothing compressed: no shift")
        XCTAssertNil(try headStatistics(plain, LayerwiseDecoderStreamTests.compress).0.cross, "no dense targets: no ΔᵀX")
    }

    /// The hidden states past the last block of every sequence, each block run with `compress`'s
    /// replacement weights calibrated on the states before it (the sweep's rule, made explicitly).
    func preNorm(_ c: LayerwiseDecoderCalibration, compress: (DecoderBlockCalibration) -> [ActivationSite.Kind: [Float]]) throws -> [[Float]] {
        let d = c.decoder, e = d.config.embedding, t = sequences[0].count
        var hidden = sequences.map { s in
            var x = [Float](repeating: 0, count: t * e)
            x.withUnsafeMutableBufferPointer { p in for i in 0..<t { d.weights.embedding.decodeRows(Int(s[i])..<(Int(s[i]) + 1), into: p.baseAddress! + i * e) } }
            return x
        }
        var scratch = Decoder.Scratch(d.config, tokens: t)
        for (i, layer) in d.weights.layers.enumerated() {
            let observer = BlockStatisticsObserver(layer: i, gram: true)
            var observed = d
            observed.observer = observer
            for var x in hidden { observed.block(layer, &x, &scratch, t, i) }
            let r = compress(DecoderBlockCalibration(index: i, blocks: d.weights.layers.count, layer: layer, statistics: observer.statistics()))
            var matrices: [ActivationSite.Kind: WeightMatrix] = [:]
            for (kind, v) in r {
                let m = layer.matrix(kind)
                matrices[kind] = try WeightMatrix(try Tensor(name: "w", shape: Shape([m.rows, m.columns]), floats: v))
            }
            let replaced = layer.replacing(matrices)
            for s in hidden.indices { d.block(replaced, &hidden[s], &scratch, t, i) }
        }
        return hidden
    }
}
