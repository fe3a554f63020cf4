import AICompressTraining

/// What a fine-tuning did.
public struct FineTuningReport: Sendable {
    /// The training run (per-epoch logs, the kept epoch, steps).
    public var training: TrainingResult
    /// Trained parameters (elements).
    public var parameters: Int
    /// Trained tensors.
    public var tensors: Int
    /// Quantized tensors, left as they are.
    public var quantizedTensors: Int
    /// Training rows (validation rows excluded).
    public var rows: Int

    /// Validation accuracy of the kept epoch, when it was measured.
    public var validationAccuracy: Double? {
        let i = training.bestEpoch - 1
        return training.logs.indices.contains(i) ? training.logs[i].validationAccuracy : nil
    }
}
