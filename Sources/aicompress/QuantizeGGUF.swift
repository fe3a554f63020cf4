import AICompressCore
import AICompressFormats
import AICompressPasses
import Foundation

private typealias G = GGUFQuantize.Parameter

/// The `--gguf` side of `aicompress quantize`: llama.cpp file types with llama-quantize's
/// per-tensor rules (`GGUFQuantize`), `--pure`, `--tensor-type REGEX=TYPE`, `--imatrix FILE`
/// (llama-quantize --imatrix, bit for bit) and `--dry-run`.
struct QuantizeGGUF {
    let type: String
    let pure: Bool
    let tensorTypes: [String]
    var imatrix: String? = nil

    /// The pass's parameter values.
    var parameters: PassParameters {
        var v = PassParameters()
        v[G.gguf] = .text(type)
        v[G.pure] = pure ? .flag : nil
        v[G.tensorType] = tensorTypes.isEmpty ? nil : .list(tensorTypes)
        return v
    }

    /// The pass (checks the values).
    func pass() throws -> GGUFQuantize {
        let pass = try GGUFQuantize.fromCommandLine(parameters)
        guard let imatrix else { return pass }
        return pass.withImportance(try ImportanceMatrix(tensors: ModelIO.read(path: imatrix).model.tensors, source: imatrix))
    }

    /// Quantizes `input` into `output`.
    func run(input: String, output: String, out: OutputOptions, report: ReportOptions) throws {
        try PassRunner.run(try pass(), input: input, output: output, out: out, report: report)
    }

    /// Prints the plan (per tensor: old type, new type, sizes) and the final size; writes nothing.
    func dryRun(input: String) throws -> String {
        let pass = try pass()
        // The plan is for a GGUF: a Hugging Face checkpoint is planned under llama.cpp's names.
        let model = try HFLlamaConversion.prepared(try ModelIO.read(path: input), for: .gguf).model
        let plan = try pass.plan(model)
        var rows: [[String]] = []
        var before = 0, after = 0, fallbacks = 0
        for (t, p) in zip(model.tensors, plan) {
            let from = t.ggmlType?.name ?? t.dtype.description
            let to = p.decision.type?.name ?? "(kept)"
            if p.decision.fellBack { fallbacks += 1 }
            rows.append([t.name, "\(t.shape)", from, to + (p.decision.fellBack ? " (fallback)" : ""),
                         Format.bytes(p.bytesBefore), Format.bytes(p.bytesAfter),
                         String(format: "%.2f", t.elementCount > 0 ? Double(p.bytesAfter * 8) / Double(t.elementCount) : 0)])
            before += p.bytesBefore
            after += p.bytesAfter
        }
        let params = max(model.parameterCount, 1)
        return Format.table(header: ["tensor", "shape", "from", "to", "bytes before", "bytes after", "bits/weight"],
                            rows: rows, rightAligned: [4, 5, 6])
            + "\n\(pass.planner.fileType.name)\(pass.planner.pure ? " (pure)" : ""): tensor data \(Format.bytes(before)) -> "
            + "\(Format.bytes(after)) (\(String(format: "%.2f", Double(after * 8) / Double(params))) bits/weight), "
            + "\(fallbacks) fallback(s); dry run, nothing written\n"
    }
}
