import AICompressCore
import AICompressFormats

/// A GGUF language model ready to run: its decoder and its tokenizer, both from the model's
/// tensors and metadata.
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
        let table = GGUFMetadataTable(try GGUFModelMetadata.pairs(model.metadata))
        tokenizer = Tokenizer(try Vocabulary(gguf: table))
        decoder = try Decoder(model: model, metadata: table)
        guard tokenizer.vocabulary.count <= decoder.config.vocabulary else {
            throw LLMError.vocabularyMismatch("the tokenizer has \(tokenizer.vocabulary.count) tokens, the embedding \(decoder.config.vocabulary) rows")
        }
    }
}
