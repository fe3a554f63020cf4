import AICompressFormats
import AICompressTraining

/// Loads a model and makes its executable task, with errors naming the model file.
func loadTask(_ path: String, frozen: (String) -> Bool = { _ in false }) throws -> (LoadedModel, ModelTask) {
    let loaded = try ModelIO.read(path: path)
    do {
        let net = try Network(model: loaded.model, frozen: frozen)
        return (loaded, try ModelTask(network: net))
    } catch {
        throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(path): \(error)")
    }
}

/// Runs `body`, prefixing execution errors with the model's path.
func withModel<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ExecutionError {
        throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(path): \(e)")
    }
}
