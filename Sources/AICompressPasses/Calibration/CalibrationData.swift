import AICompressCore
import AICompressTraining

/// Calibration rows for a single-input model (a CSV or .npy table): the first `maxRows` rows,
/// fed in batches shaped as the model's input.
public struct CalibrationData: Sendable {
    /// Reads the table given the model's input width (so a CSV without a label column is
    /// told from one with); called once, by `batches(for:)`.
    public let load: @Sendable (_ expectedFeatures: Int) throws -> Dataset
    /// Rows used at most (the first ones, so a run is deterministic).
    public let maxRows: Int
    /// Rows per forward pass.
    public let batchRows: Int

    /// Calibration from a table read by `load`.
    public init(maxRows: Int = 1024, batchRows: Int = 256, load: @escaping @Sendable (_ expectedFeatures: Int) throws -> Dataset) {
        self.load = load
        self.maxRows = max(1, maxRows)
        self.batchRows = max(1, batchRows)
    }

    /// Calibration from a table in memory.
    public init(dataset: Dataset, maxRows: Int = 1024, batchRows: Int = 256) {
        self.init(maxRows: maxRows, batchRows: batchRows) { _ in dataset }
    }

    /// The batches, as feeds of `model`'s data input.
    /// - Throws: `PassError.unsupported` when the model has not exactly one data input or the
    ///   table's width is not the input's.
    public func batches(for model: Model) throws -> [[String: NDArray]] {
        let task: ModelTask
        do { task = try ModelTask(network: try Network(model: model)) } catch {
            throw PassError.unsupported(tensor: "model", reason: "calibration feeds the model from a table: \(error)")
        }
        if let refusal = task.tableRefusal {
            throw PassError.unsupported(tensor: "model", reason: "calibration feeds the model from a table: \(refusal)")
        }
        let dataset = try load(task.featureCount)
        guard dataset.featureCount == task.featureCount else {
            throw PassError.unsupported(tensor: task.inputName, reason: "the calibration data has \(dataset.featureCount) features per row; the model's input takes \(task.featureCount)")
        }
        let width = dataset.featureCount, rows = min(dataset.rows, maxRows)
        return stride(from: 0, to: rows, by: batchRows).map { start in
            let end = min(rows, start + batchRows)
            let values = Array(dataset.features[(start * width)..<(end * width)])
            return [task.inputName: NDArray(shape: [end - start] + task.rowShape, floats: values)]
        }
    }
}
