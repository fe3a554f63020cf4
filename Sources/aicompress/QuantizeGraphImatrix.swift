import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import ArgumentParser

extension AICompress.Quantize {
    /// `quantize --calibration DATA --save-imatrix FILE` on a graph model: the importance matrix
    /// of its selected Gemm/MatMul weights over the data (`GraphImportance`), written as
    /// llama.cpp's imatrix GGUF and read back, so the rounding it weights is exactly what
    /// `--imatrix FILE` gives (and what the recipe records).
    static func savedImportance(_ pass: AICompressPasses.Quantize, input: String, data: CalibrationData,
                                dataPath: String, save: String) throws -> AICompressPasses.Quantize {
        let model = try ModelIO.read(path: input).model
        guard model.graph != nil else {
            throw ValidationError("--calibration and --save-imatrix on a language model go with --gguf TYPE (\(input) has no graph)")
        }
        let (entries, batches) = try GraphImportance.collect(model, selection: pass.selection, calibration: data)
        do {  // the scheme takes an importance matrix (checked before anything is written)
            _ = try pass.withImportance(try ImportanceMatrix(tensors: GraphImportance.tensors(entries), source: save))
        } catch let e as PassError { throw ValidationError(e.commandLineMessage) }
        let encoded = try ImportanceMatrixWriter.encode(entries, datasets: [dataPath], chunkCount: batches, chunkSize: data.batchRows)
        let file = try OutputFile(path: save)
        try encoded.withUnsafeBytes { try file.write($0) }
        try file.commit()
        let matrix = try ImportanceMatrix(tensors: ModelIO.read(path: save).model.tensors, source: save)
        do { return try pass.withImportance(matrix) } catch let e as PassError { throw ValidationError(e.commandLineMessage) }
    }
}
