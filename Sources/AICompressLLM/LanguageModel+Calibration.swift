import AICompressCore
import AICompressFormats

extension LanguageModel {
    /// The language model of a model on its way to a GGUF file (what `quantize --gguf` passes
    /// see): a GGUF model as read, or a Hugging Face checkpoint after `HFLlamaConversion`, whose
    /// q/k rows are still in Hugging Face's order (the GGUF writer permutes them, as named by
    /// `HFLlamaPermutation.metadataKey`), so its rotary embeddings rotate halves. Weights are
    /// the model's own tensors, so what is calibrated is exactly what is written.
    /// - Throws: `LLMError` naming the key or tensor at fault, `GGUFError` for bad metadata.
    public init(beingWritten model: Model) throws {
        let hfLayout = model.metadata[HFLlamaPermutation.metadataKey] != nil
        try self.init(model: model) { c in if hfLayout { c.ropeStyle = .halves } }
    }
}
