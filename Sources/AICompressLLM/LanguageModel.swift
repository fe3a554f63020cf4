import AICompressCore
import AICompressFormats

/// A language model ready to run: its decoder and its tokenizer, from a GGUF model's tensors
/// and metadata or from a Hugging Face checkpoint (`init(huggingFace:)`).
public struct LanguageModel: Sendable {
    /// The decoder.
    public let decoder: Decoder
    /// The tokenizer.
    public let tokenizer: Tokenizer

    /// A language model of its parts.
    public init(decoder: Decoder, tokenizer: Tokenizer) {
        self.decoder = decoder
        self.tokenizer = tokenizer
    }

    /// The language model of a model read from GGUF (or a .ckpt holding GGUF metadata).
    /// - Throws: `LLMError` naming the key or tensor at fault, `GGUFError` for bad metadata.
    public init(model: Model) throws {
        try self.init(model: model, adjust: { _ in })
    }

    /// The language model of `model` (tensors by llama.cpp's names, GGUF pairs in its metadata),
    /// its configuration changed by `adjust` before the weights are checked against it.
    init(model: Model, adjust: (inout DecoderConfig) -> Void) throws {
        let table = GGUFMetadataTable(try GGUFModelMetadata.pairs(model.metadata))
        tokenizer = Tokenizer(try Vocabulary(gguf: table))
        var c = try DecoderConfig(gguf: table, model: model)
        adjust(&c)
        decoder = Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
        guard tokenizer.vocabulary.count <= decoder.config.vocabulary else {
            throw LLMError.vocabularyMismatch("the tokenizer has \(tokenizer.vocabulary.count) tokens, the embedding \(decoder.config.vocabulary) rows")
        }
    }
}
