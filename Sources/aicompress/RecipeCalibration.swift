import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import ArgumentParser
import Foundation

/// Calibrated steps in recipes: `prune --method wanda|sparsegpt`, `quantize --method gptq`,
/// `quantize --gguf TYPE --method gptq|awq`, and the importance-weighted GGUF quantization
/// (`--imatrix FILE`, or `--calibration TEXT` with `--method rtn`). These passes are built by
/// the commands, not from the pass catalog, so a recipe records their command-line keys —
/// the data file with its SHA-256 and size (`calibration-sha256`, `calibration-bytes`;
/// `imatrix-sha256`, `imatrix-bytes`) and every setting, defaults included — and `apply`
/// builds the same pass again from them (spec/recipes.md).
enum CalibratedStep {
    /// Keys of the data-aware methods, beside the keys of the step's pass.
    static let keys: Set<String> = ["method", "calibration", "calibration-sha256", "calibration-bytes", "calibration-rows",
                                    "calibration-tokens", "calibration-chunks", "delimiter", "columns", "drop", "damp",
                                    "act-order", "imatrix", "imatrix-sha256", "imatrix-bytes", "awq-grid", "head", "embedding", "allocation", "targets"]

    /// `key: path` with the file's SHA-256 and size, so `apply` refuses a file that changed.
    static func file(_ key: String, path: String) throws -> [Recipe.Option] {
        let (sha, size) = try InputFile(path: path).buffer.withUnsafeBytes { (SHA256.hex($0), $0.count) }
        return [option(key, path), option(key + "-sha256", sha), option(key + "-bytes", "\(size)")]
    }

    static func option(_ key: String, _ value: String) -> Recipe.Option { Recipe.Option(key: key, values: [value], isFlag: false) }
    static func flag(_ key: String) -> Recipe.Option { Recipe.Option(key: key, values: [], isFlag: true) }

    /// The recorded step of a calibrated prune: method, what it removes, the selection keys
    /// (graph models), then the data keys.
    static func prune(method: String, pattern: SparsityPattern, scope: Prune.Scope = .tensor,
                      allocation: CalibratedPrune.Allocation = .curves, denseTargets: Bool = false, selection: [Recipe.Option] = [],
                      calibration: [Recipe.Option]) -> Recipe.Step {
        let removed: Recipe.Option
        switch pattern {
        case .unstructured(let f): removed = option("sparsity", "\(f)")
        case .nOfM(let k, let m): removed = option("pattern", "\(k):\(m)")
        }
        // Absent: per layer, as before `scope` was taken; `allocation` absent: curves, as before it was.
        let shared = scope == .global ? [option("scope", scope.rawValue)] + (allocation == .curves ? [] : [option("allocation", allocation.rawValue)]) : []
        let targets = denseTargets ? [option("targets", "dense")] : []  // a language model's SparseGPT
        return Recipe.Step(command: "prune", options: [option("method", method), removed] + shared + targets + selection + calibration)
    }

    /// What a data-aware prune removes: N:M from `pattern`, else the fraction `sparsity` (or 1 − `keep`).
    /// - Throws: the reason, naming the flags as `--` options.
    static func pattern(keep: Double?, sparsity: Double?, pattern: String?, method: String) throws -> SparsityPattern {
        if let p = pattern {
            let parts = p.split(separator: ":").compactMap { Int($0) }
            guard p != "channels", parts.count == 2, parts[1] >= 1, parts[0] >= 0, parts[0] <= parts[1] else {
                throw ValidationError("--method \(method) takes --pattern N:M (e.g. 2:4), not '\(p)'")
            }
            return .nOfM(keep: parts[0], group: parts[1])
        }
        guard let f = sparsity ?? keep.map({ 1 - $0 }) else { throw ValidationError("give --keep, --sparsity or --pattern N:M") }
        return .unstructured(fraction: f)
    }
}

/// What `apply` knows of its input when it builds calibrated steps.
struct ApplyInput {
    /// The input path as given.
    let path: String
    /// The input as a language model (nil: a graph model, or standard input).
    let languageModel: AICompress.Prune.LanguageModelInput?

    init(path: String, needsLanguageModel: Bool) throws {
        self.path = path
        languageModel = needsLanguageModel ? try AICompress.Prune.languageModelInput(path) : nil
    }
}

extension Recipe.Step {
    /// Whether `apply` builds this step through `CalibratedStep` (a data-aware method, or an
    /// importance matrix that must be read).
    var isCalibrated: Bool {
        options.contains { ["method", "calibration"].contains($0.key) || ($0.key == "imatrix" && command.hasPrefix("quantize")) }
    }

    /// The calibrated pass this step records (see `CalibratedStep`); errors name the recipe
    /// line and key. `first`: the step is the recipe's first (it sees the input file itself).
    func calibratedPass(file: String, number: Int, input: ApplyInput, first: Bool) throws -> any CompressionPass {
        /// `targets: dense` (a language model's GPTQ or SparseGPT fits the dense model's outputs);
        /// absent: the blocks' own outputs, as recipes written before it did.
        func denseTargets() throws -> Bool {
            guard let w = word("targets") else { return false }
            guard w == "dense" else { throw fail("targets", "must be dense (got \(w))") }
            return true
        }
        func fail(_ key: String?, _ message: String) -> Recipe.Failure {
            let o = key.flatMap { k in options.first { $0.key == k } }
            return Recipe.Failure(description: "\(file):\(o?.line ?? line): step \(number) (\(command)):"
                + (key.map { " key '\($0)':" } ?? "") + " \(message)")
        }
        func word(_ key: String) -> String? { options.first { $0.key == key }?.values.first }
        let flags = Set(options.filter(\.isFlag).map(\.key))
        // The data files, checked against the digests recorded with them.
        for key in ["calibration", "imatrix"] {
            guard let path = word(key) else { continue }
            let (sha, size) = try InputFile(path: path).buffer.withUnsafeBytes { (SHA256.hex($0), $0.count) }
            if let recorded = word(key + "-bytes"), recorded != "\(size)" {
                throw fail(key, "\(path) has changed since the recipe was written (\(size) bytes; the recipe records \(recorded))")
            }
            if let recorded = word(key + "-sha256"), recorded.lowercased() != sha {
                throw fail(key, "\(path) has changed since the recipe was written (SHA-256 \(sha); the recipe records \(recorded))")
            }
        }
        let method = word("method") ?? (command == "prune" ? "magnitude" : "rtn")
        // The keys each method takes besides its pass's (as its command's flags do).
        let data: Set<String> = ["calibration", "calibration-sha256", "calibration-bytes"]
        let text: Set<String> = ["calibration-tokens", "calibration-chunks"], table: Set<String> = ["calibration-rows", "delimiter", "columns", "drop"]
        let imatrix: Set<String> = ["imatrix", "imatrix-sha256", "imatrix-bytes"]
        let allowed: Set<String>
        switch (command, method) {
        case ("prune", "wanda"), ("prune", "sparsegpt"): allowed = data.union(text).union(table).union(["allocation", "targets"])
        case ("quantize", "gptq"): allowed = data.union(table).union(["damp", "act-order"])
        case ("quantize", "awq"): allowed = data.union(table).union(["awq-grid"])
        case ("quantize", "rtn"): allowed = imatrix
        case ("quantize-gguf", "gptq"): allowed = data.union(text).union(["damp", "act-order", "head", "embedding", "targets"])
        case ("quantize-gguf", "awq"): allowed = data.union(text).union(["awq-grid"])
        case ("quantize-gguf", "rtn"): allowed = data.union(text).union(imatrix)
        default: throw fail("method", "\(command) has no data-aware method '\(method)' (prune: wanda, sparsegpt; quantize: gptq, awq; quantize-gguf: gptq, awq)")
        }
        if let stray = options.first(where: { CalibratedStep.keys.contains($0.key) && $0.key != "method" && !allowed.contains($0.key) }) {
            throw fail(stray.key, "not a key of \(command) with method \(method)")
        }
        // Everything else is the pass's own keys (checked by its declaration).
        let base = Recipe.Step(command: command, options: options.filter {
            !CalibratedStep.keys.contains($0.key) && !(command == "prune" && CalibratedStep.jointKeys.contains($0.key))
        }, line: line)
        let calibrationArguments = Recipe.Step(command: command, options: options.filter {
            ["calibration", "calibration-rows", "calibration-tokens", "calibration-chunks", "delimiter", "columns", "drop"].contains($0.key)
        }).arguments
        let calibration: CalibrationOptions
        do {
            calibration = try CalibrationOptions.parse(calibrationArguments)
            try calibration.check(needed: word("calibration") != nil, method: method)
        } catch { throw fail(nil, CalibrationOptions.message(for: error)) }
        let damp = try word("damp").map { w in
            guard let d = Double(w), d >= 0, d < 1 else { throw fail("damp", "must be in [0, 1) (got \(w))") }
            return d
        } ?? 0.01
        let grid = try word("awq-grid").map { w in
            guard let n = Int(w), (1...100).contains(n) else { throw fail("awq-grid", "must be a whole number in 1 … 100 (got \(w))") }
            return n
        } ?? 20
        switch (command, method) {
        case ("prune", "wanda"), ("prune", "sparsegpt"):
            guard let path = calibration.calibration else { throw fail("method", "\(method) needs the key 'calibration'") }
            func decimal(_ key: String) throws -> Double? {
                try word(key).map { w in guard let v = Double(w) else { throw fail(key, "not a number: \(w)") }; return v }
            }
            let pattern: SparsityPattern
            do { pattern = try CalibratedStep.pattern(keep: decimal("keep"), sparsity: decimal("sparsity"), pattern: word("pattern"), method: method) } catch let e as ValidationError {
                throw fail(nil, e.message)
            }
            // The keys are checked as `prune` checks its flags (the selection is a graph model's).
            let selection = try base.pass(file: file, number: number) as? Prune
            let scope = word("scope") == Prune.Scope.global.rawValue ? Prune.Scope.global : .tensor
            if scope == .global && (input.languageModel != nil || word("quantize") != nil) {
                throw fail("scope", input.languageModel != nil ? "global goes with graph models (a language model's blocks are pruned one at a time)"
                                                               : "global does not go with `quantize` (the joint sweep prunes every layer by the same fraction)")
            }
            do {  // `quantize` (and `group-size`): SparseGPT's joint sweep (Prune+Quantize.swift)
                if let joint = try CalibratedStep.jointPass(method: method, quantize: word("quantize"), groupSize: word("group-size"),
                                                            pattern: pattern, selection: selection?.selection ?? TensorSelection(),
                                                            calibration: calibration.data, languageModel: input.languageModel != nil) {
                    return joint
                }
            } catch let e as ValidationError { throw fail(word("quantize") == nil ? "group-size" : "quantize", e.message) }
            if let lm = input.languageModel, let m = LinearLayerPruning.Method(rawValue: method) {
                guard first || lm.huggingFace == nil else {
                    throw fail("method", "on a Hugging Face checkpoint a calibrated prune must be the recipe's first step")
                }
                let text = try InputFile(path: path).buffer.withUnsafeBytes { Array($0) }
                // A recipe written before dense targets has no `targets`: SparseGPT fitted each block's own outputs.
                return LanguageModelPrune(method: m, pattern: pattern, text: text, textPath: path,
                                          options: calibration.textOptions(gram: m == .sparsegpt, denseTargets: try denseTargets()),
                                          huggingFace: lm.huggingFace)
            }
            guard let data = calibration.data, let m = CalibratedPrune.Method(rawValue: method) else { throw fail("method", "unknown method") }
            let allocation = try word("allocation").map { w in
                guard let a = CalibratedPrune.Allocation(rawValue: w) else { throw fail("allocation", "must be curves or output (got \(w))") }
                guard scope == .global else { throw fail("allocation", "goes with `scope` global") }
                return a
            } ?? .curves
            return CalibratedPrune(method: m, pattern: pattern, selection: selection?.selection ?? TensorSelection(), calibration: data,
                                   scope: scope, allocation: allocation)
        case ("quantize", "gptq"):
            guard let data = calibration.data, let quantize = try base.pass(file: file, number: number) as? Quantize else {
                throw fail("method", "gptq needs the key 'calibration'")
            }
            return GPTQQuantize(base: quantize, calibration: data, gptq: GPTQ(dampFraction: damp, actOrder: flags.contains("act-order")))
        case ("quantize", "awq"):
            guard let data = calibration.data, let quantize = try base.pass(file: file, number: number) as? Quantize else {
                throw fail("method", "awq needs the key 'calibration'")
            }
            return GraphAWQQuantize(base: quantize, calibration: data, grid: grid)
        case ("quantize", "rtn"):
            guard var quantize = try base.pass(file: file, number: number) as? Quantize else { throw fail(nil, "not a quantize step") }
            if let path = word("imatrix") {
                let matrix = try ImportanceMatrix(tensors: ModelIO.read(path: path).model.tensors, source: path)
                do { quantize = try quantize.withImportance(matrix) } catch let e as PassError { throw fail("imatrix", e.description) }
            }
            return quantize
        case ("quantize-gguf", "gptq"), ("quantize-gguf", "awq"), ("quantize-gguf", "rtn"):
            guard let gguf = try base.pass(file: file, number: number) as? GGUFQuantize else { throw fail(nil, "not a quantize-gguf step") }
            let values = gguf.parameterValues
            var q = QuantizeGGUF(type: values.text(GGUFQuantize.Parameter.gguf) ?? "", pure: values.flag(GGUFQuantize.Parameter.pure),
                                 tensorTypes: values.list(GGUFQuantize.Parameter.tensorType), imatrix: word("imatrix"),
                                 allowRequantize: values.flag(GGUFQuantize.Parameter.allowRequantize))
            if let path = calibration.calibration {
                let text = CalibrationText(path: path, tokens: calibration.calibrationTokens, chunks: calibration.calibrationChunks, quiet: true)
                if method == "gptq" {
                    // A recipe written before the head was calibrated has no `head`: its head was rounded.
                    let head = try word("head").map { w in
                        guard let h = GPTQHead(rawValue: w) else { throw fail("head", "must be auto, rtn or gptq (got \(w))") }
                        return h
                    } ?? .rtn
                    // Nor one written before the embedding was: its token_embd was rounded.
                    let embedding = try word("embedding").map { w in
                        guard let e = GPTQEmbedding(rawValue: w) else { throw fail("embedding", "must be auto, rtn or gptq (got \(w))") }
                        return e
                    } ?? .rtn
                    // Nor one written before dense targets: each block fitted its own outputs.
                    q.gptq = .init(text: text, damp: damp, actOrder: flags.contains("act-order"), head: head, embedding: embedding,
                                   denseTargets: try denseTargets(), refusesPruned: true)
                } else if method == "awq" {
                    q.awq = .init(text: text, grid: grid)
                } else {
                    guard first else { throw fail("calibration", "an importance matrix computed from a text runs the input model: make it the recipe's first step") }
                    q.importanceText = .init(text: text, model: input.path, save: nil)
                }
            } else if method != "rtn" {
                throw fail("method", "\(method) needs the key 'calibration'")
            }
            do { return try q.pass() } catch let e as PassError { throw fail("method", e.description) }
        default:
            throw fail("method", "\(command) has no data-aware method '\(method)'")
        }
    }
}
