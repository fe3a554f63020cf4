import AICompressTraining

/// What a distillation did: the training run, its time and the sizes of teacher and student.
public struct DistillationReport: Sendable {
    /// The training run (per-epoch logs, the kept epoch, steps).
    public var training: TrainingResult
    /// Seconds spent in training (teacher targets not included).
    public var seconds: Double
    /// The teacher's float parameters and float constants.
    public var teacherParameters: Int
    /// The distilled student's parameters (projections removed).
    public var studentParameters: Int
    /// Training rows (real or synthesized, validation rows excluded).
    public var rows: Int
    /// Whether the data's labels took part (false: the teacher's outputs were the only targets).
    public var usedLabels: Bool
    /// Whether the teacher's output was probabilities, followed through their log.
    public var teacherGaveProbabilities = false

    /// Validation accuracy of the kept epoch, when it was measured.
    public var validationAccuracy: Double? {
        let i = max(training.bestEpoch - 1, 0)
        return training.logs.indices.contains(i) ? training.logs[i].validationAccuracy : nil
    }
}
