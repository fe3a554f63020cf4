import AICompressCore
import AICompressTraining

/// Calibration rows: a CSV or .npy table for a single-input model, or named arrays (an .npz) for
/// a model of several or integer inputs (a BERT-class encoder); the first `maxRows` rows, fed in
/// batches shaped as the model's inputs.
public struct CalibrationData: Sendable {
    /// Reads the data given the model's input width (so a CSV without a label column is told
    /// from one with), nil when the model is not fed from a table (several inputs, token
    /// inputs: only named arrays can feed it); called once, by `batches(for:)`.
    public let load: @Sendable (_ expectedFeatures: Int?) throws -> Dataset
    /// Rows used at most (the first ones, so a run is deterministic).
    public let maxRows: Int
    /// Rows per forward pass.
    public let batchRows: Int

    /// Calibration from a table read by `load`.
    public init(maxRows: Int = 1024, batchRows: Int = 256, load: @escaping @Sendable (_ expectedFeatures: Int?) throws -> Dataset) {
        self.load = load
        self.maxRows = max(1, maxRows)
        self.batchRows = max(1, batchRows)
    }

    /// Calibration from a table in memory.
    public init(dataset: Dataset, maxRows: Int = 1024, batchRows: Int = 256) {
        self.init(maxRows: maxRows, batchRows: batchRows) { _ in dataset }
    }

    /// The batches, as feeds of `model`'s inputs: rows of the table as its one data input, or,
    /// for data of named arrays (an .npz), each array fed to the graph input of its name.
    /// - Throws: `PassError.unsupported` when a table's width is not the input's, or a model with
    ///   several inputs (or token inputs) is given a table instead of named arrays.
    public func batches(for model: Model) throws -> [[String: NDArray]] {
        let task: ModelTask
        do { task = try ModelTask(network: try Network(model: model)) } catch {
            throw PassError.unsupported(tensor: "model", reason: "calibration feeds the model: \(error)")
        }
        let dataset = try load(task.tableRefusal == nil ? task.featureCount : nil)
        if let named = dataset.namedInputs {
            let rows = min(named.rows, maxRows)
            return try stride(from: 0, to: rows, by: batchRows).map { start in
                do { return try task.feeds(dataset, rows: Array(start..<min(rows, start + batchRows))) } catch {
                    throw PassError.unsupported(tensor: "model", reason: "calibration feeds the model from \(named.source): \(error)")
                }
            }
        }
        if let refusal = task.tableRefusal {
            throw PassError.unsupported(tensor: "model", reason: "calibration feeds the model from a table: \(refusal)")
        }
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
