import AICompressCore
import XCTest

@testable import AICompressLLM

/// What the architecture suites of the decoder (qwen3, phi3) share: a decoder of a model, its
/// logits on `DecoderTests.tokens`, and the error measure they compare by.
extension XCTestCase {
    func decoder(_ model: Model, _ c: DecoderConfig) throws -> Decoder {
        Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
    }

    func logits(_ d: Decoder) throws -> [Float] {
        TextEvaluation.logits(d, try d.hiddenStates(DecoderTests.tokens), rows: 0..<DecoderTests.tokens.count)
    }

    /// Largest |a − b| relative to the largest |b|.
    func relativeError(_ a: [Float], _ b: [Float]) -> Float { HFCheckpointTests.relativeError(a, b) }
}
