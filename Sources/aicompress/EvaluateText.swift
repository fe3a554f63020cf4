import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressTraining
import ArgumentParser
import Foundation

/// `evaluate MODEL.gguf|HF_FOLDER --text FILE`: perplexity (and, with --compare, KL divergence against a
/// base model) the way llama-perplexity computes them.
struct TextEvaluationOptions: ParsableArguments {
    @Option(help: "A UTF-8 text file: evaluate a GGUF or Hugging Face language model's perplexity on it (as llama-perplexity does) instead of --data.")
    var text: String?

    @Option(help: "Tokens per chunk with --text (llama-perplexity's -c).")
    var context = 512

    @Option(help: "At most this many chunks with --text (default: all).")
    var chunks: Int?
}

extension AICompress.Evaluate {
    /// Loads a language model — a GGUF file, or a Hugging Face checkpoint (a folder, its
    /// model.safetensors or its .safetensors.index.json) — naming the file in any error.
    static func languageModel(_ path: String) throws -> LanguageModel {
        let loaded = try ModelIO.read(path: path)
        do {
            if loaded.format == .safetensors { return try LanguageModel(huggingFace: loaded) }
            return try LanguageModel(model: loaded.model)
        } catch let e as any DataFault {
            throw ExitStatus.Failure(code: e.faultKind == .usage ? ExitStatus.usage : ExitStatus.dataError, message: "\(path): \(e)")
        }
    }

    func runText(_ file: String) throws {
        let evaluation: TextEvaluation
        do { evaluation = try TextEvaluation(context: text.context, chunks: text.chunks) } catch {
            throw ValidationError("--\(error.description.dropFirst().replacingOccurrences(of: "`", with: ""))")
        }
        let lm = try Self.languageModel(model)
        let base = try compare.map { try Self.languageModel($0) }
        let input = try InputFile(path: file)
        let bytes = input.buffer.withUnsafeBytes { Array($0) }
        let interactive = FileHandleOutput.stderrIsInteractive
        let started = Date()
        let result: TextEvaluationResult
        do {
            result = try evaluation.run(lm, base: base, text: bytes) { done, total in
                guard interactive else { return }
                let rate = Double(done * evaluation.context) / max(1e-9, Date().timeIntervalSince(started))
                FileHandleOutput.stderr("\r\u{1B}[Kevaluating: chunk \(done)/\(total), \(String(format: "%.0f", rate)) tokens/s")
                if done == total { FileHandleOutput.stderr("\r\u{1B}[K") }
            }
        } catch {
            throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(model) on \(file): \(error)")
        }
        if json {
            try FileHandleOutput.stdout(textJSON(result, file).rendered() + "\n")
        } else {
            try FileHandleOutput.stdout(textTable(result, file))
        }
        FileHandleOutput.stderr(String(format: "%d tokens in %.2f s: %.1f tokens/s\n", result.chunks * result.context * (base == nil ? 1 : 2),
                                       result.seconds, result.tokensPerSecond * (base == nil ? 1 : 2)))
    }

    func textTable(_ r: TextEvaluationResult, _ file: String) -> String {
        var s = "\(model) on \(file): \(Format.count(r.tokens)) tokens, \(r.chunks) chunks of \(r.context), \(Format.count(r.scored)) tokens scored\n\n"
        s += String(format: "perplexity  %.4f ± %.5f\n", r.perplexity, r.perplexityError)
        guard let c = r.comparison, let base = compare else { return s }
        s += "\ncompared with \(base):\n"
        s += String(format: "  base perplexity     %.4f ± %.5f\n", c.basePerplexity, c.basePerplexityError)
        s += String(format: "  mean KL divergence  %.6f ± %.6f\n", c.meanKLD, c.meanKLDError)
        s += String(format: "  mean Δp             %.3f ± %.3f %%\n", 100 * c.meanDeltaP, 100 * c.meanDeltaPError)
        s += String(format: "  RMS Δp              %.3f ± %.3f %%\n", 100 * c.rmsDeltaP, 100 * c.rmsDeltaPError)
        s += String(format: "  same top token      %.3f ± %.3f %%\n\n", 100 * c.sameTop, 100 * c.sameTopError)
        s += Format.table(header: ["KL divergence", "value"], rows: c.kldPercentiles.map { [$0.label, String(format: "%.6f", $0.value)] },
                          rightAligned: [1])
        return s
    }

    func textJSON(_ r: TextEvaluationResult, _ file: String) -> JSON {
        func pair(_ v: Double, _ e: Double) -> JSON { .object([("value", .double(v)), ("error", .double(e))]) }
        var fields: [(String, JSON)] = [
            ("schema", .string("aicompress.evaluate-text/1")),
            ("model", .string(model)),
            ("text", .object([("file", .string(file)), ("tokens", .int(r.tokens)), ("context", .int(r.context)),
                              ("chunks", .int(r.chunks)), ("scored", .int(r.scored))])),
            ("perplexity", pair(r.perplexity, r.perplexityError)),
        ]
        if let c = r.comparison {
            fields.append(("base", .object([("model", .string(compare ?? "")), ("perplexity", pair(c.basePerplexity, c.basePerplexityError))])))
            fields.append(("kl_divergence", .object([("mean", .double(c.meanKLD)), ("error", .double(c.meanKLDError)),
                                                     ("percentiles", .object(c.kldPercentiles.map { ($0.label, .double($0.value)) }))])))
            fields.append(("delta_p", .object([("mean", .double(c.meanDeltaP)), ("mean_error", .double(c.meanDeltaPError)),
                                               ("rms", .double(c.rmsDeltaP)), ("rms_error", .double(c.rmsDeltaPError))])))
            fields.append(("same_top", pair(c.sameTop, c.sameTopError)))
        } else {
            fields += [("kl_divergence", .null), ("delta_p", .null), ("same_top", .null)]
        }
        return .object(fields)
    }
}
