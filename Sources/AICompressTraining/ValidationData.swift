import AICompressCore
/// Which rows measure a training run: none, a separate data set, or a seeded hold-out share of
/// the training rows. Validation drives early stopping and the per-epoch validation figures.
public enum ValidationData: Sendable {
    /// No validation: early stopping watches the training loss.
    case none
    /// A separate data set; `name` (a file path, say) appears in error messages about its labels.
    case rows(Dataset, name: String = "the validation data")
    /// Hold out this fraction (0 < f < 1, at least one row) of the training rows.
    case holdOut(fraction: Double)
    /// The default of a run that stops early without being told what to validate on: hold out
    /// `defaultFraction` of the rows when there are at least `automaticMinimumRows`, else none
    /// (a handful of rows cannot spare a meaningful validation share; the training loss is watched).
    case automatic

    /// The share `automatic` holds out: 10%, as Keras' and scikit-learn's early-stopping
    /// examples commonly use (scikit-learn's MLP `validation_fraction` default).
    public static let defaultFraction = 0.1
    /// Fewest rows for which `automatic` holds some out: then at least 2 validation rows.
    public static let automaticMinimumRows = 20

    /// Mixed into the training seed for the hold-out permutation, so that the split is not the
    /// same permutation as the first epoch's shuffle.
    public static let holdOutSeedSalt: UInt64 = 0x5EED_5EED

    /// Splits `data` into training and validation rows; `seed` is the training seed.
    /// - Throws: `ValidationSplitError` when the fraction is out of range or leaves no training rows.
    public func split(_ data: Dataset, seed: UInt64) throws(ValidationSplitError) -> (train: Dataset, validation: Dataset?) {
        switch self {
        case .none:
            return (data, nil)
        case .rows(let v, _):
            return (data, v)
        case .automatic:
            guard data.rows >= Self.automaticMinimumRows else { return (data, nil) }
            return try ValidationData.holdOut(fraction: Self.defaultFraction).split(data, seed: seed)
        case .holdOut(let fraction):
            guard fraction > 0 && fraction < 1 else { throw .fractionOutOfRange(fraction) }
            var rng = SplitMix64(seed: seed ^ Self.holdOutSeedSalt)
            let order = rng.permutation(data.rows)
            let nVal = max(1, Int((Double(data.rows) * fraction).rounded()))
            guard nVal < data.rows else { throw .noTrainingRowsLeft(rows: data.rows) }
            return (data.subset(Array(order[nVal...]).sorted()), data.subset(Array(order[..<nVal]).sorted()))
        }
    }

    /// The name of the validation rows in messages: the separate set's, else the training data's.
    public func name(trainingData: String) -> String {
        if case .rows(_, let name) = self { return name }
        return trainingData
    }
}

/// Why a hold-out split cannot be made.
public enum ValidationSplitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The fraction is not strictly between 0 and 1.
    case fractionOutOfRange(Double)
    /// The hold-out takes every row.
    case noTrainingRowsLeft(rows: Int)

    /// One line, without a file name (the caller knows which file the model or data came from).
    public var description: String {
        switch self {
        case .fractionOutOfRange(let f): return "the validation fraction must be between 0 and 1, not \(f)"
        case .noTrainingRowsLeft(let rows): return "holding out validation rows leaves none of the \(rows) for training"
        }
    }
}
