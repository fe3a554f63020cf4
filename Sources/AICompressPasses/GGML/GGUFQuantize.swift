import AICompressCore

/// `quantize --gguf TYPE`: every tensor gets the ggml type llama-quantize would give it for
/// that file type (`GGUFTypePlanner`), encoded bit-identically to ggml's reference quantizers
/// (`GGMLType.quantize`), row block by row block from the source tensor, so at most a chunk of
/// one tensor is ever held as f32. Block types become `.ggml(type)` tensors, F16/BF16 dense
/// ones; the output's metadata gets `gguf.file_type` (the llama_ftype), which the GGUF writer
/// puts in `general.file_type`. A tensor already in a block type is copied when its type is
/// the one chosen; one that would get another type (or be re-encoded by a calibrated method) is
/// refused unless `allow-requantize` is set, as llama-quantize refuses it without
/// `--allow-requantize`; with it, it is dequantized and requantized.
public struct GGUFQuantize: ConfigurablePass {
    /// The parameters, declared once.
    public enum Parameter {
        /// The file type (`Q4_K_M`, `Q8_0`, …).
        public static let gguf = PassParameter("gguf", .choice(GGUFFileType.names),
                                               help: "llama.cpp file type: \(GGUFFileType.names.joined(separator: ", ")).")
        /// One type everywhere it can go.
        public static let pure = PassParameter("pure", .flag, help: "With `gguf`: one type for every quantizable tensor (no mix rules; fallbacks still apply).")
        /// `REGEX=TYPE` overrides.
        public static let tensorType = PassParameter("tensor-type", .list,
                                                     help: "With `gguf`: REGEX=TYPE, the ggml type of tensors whose name matches REGEX (first match wins; repeatable).")
        /// Requantizing tensors already in a block type.
        public static let allowRequantize = PassParameter(
            "allow-requantize", .flag,
            help: "With `gguf`: requantize tensors already in a ggml block type (decoded, then rounded again: the two errors add up); "
                + "without it such an input is refused, as llama-quantize refuses it without --allow-requantize.")
        /// In help order.
        public static let all = [gguf, pure, tensorType, allowRequantize]
    }

    /// `quantize-gguf`.
    public static let stepName = "quantize-gguf"
    /// The parameters.
    public static let declaredParameters = Parameter.all

    /// The planner (file type, pure, overrides).
    public private(set) var planner: GGUFTypePlanner
    private var values: PassParameters
    /// The importance matrix weighting the scale searches (`withImportance`); nil: none.
    public private(set) var importance: ImportanceMatrix?
    /// Computes, from the model as the pass sees it and each tensor's planned type, encoded
    /// tensors that replace round-to-nearest (GPTQ's, from calibration data the caller holds):
    /// a dictionary, or tensors made as the transform asks for them (`CalibratedTensors`).
    public typealias Calibrator = @Sendable (_ model: Model, _ types: [String: GGMLType]) throws -> any CalibratedTensors
    /// The calibrated method (`withCalibration`): its provenance words and its calibrator.
    public private(set) var calibration: (words: [(String, String)], calibrator: Calibrator)?
    /// A calibrated tensor's report made by the method itself (AWQ's, whose encoding is of
    /// scaled weights and is measured against the original in the original basis); nil: measured
    /// here against the source tensor.
    public typealias CalibratedReport = @Sendable (_ name: String) -> TensorReport?
    /// The calibrated method's own reports (`withCalibration(_:_:reports:)`).
    public private(set) var calibratedReport: CalibratedReport?
    /// Tensors already in a block type may be requantized (`allow-requantize`).
    public private(set) var allowRequantize = false

    /// The pass for `fileType`.
    public init(fileType: GGUFFileType, pure: Bool = false, overrides: [(pattern: String, type: GGMLType)] = [],
                allowRequantize: Bool = false) {
        planner = GGUFTypePlanner(fileType: fileType, pure: pure, overrides: overrides)
        self.allowRequantize = allowRequantize
        var v = PassParameters()
        v[Parameter.gguf] = .text(fileType.name)
        if pure { v[Parameter.pure] = .flag }
        if !overrides.isEmpty { v[Parameter.tensorType] = .list(overrides.map { "\($0.pattern)=\($0.type.name)" }) }
        if allowRequantize { v[Parameter.allowRequantize] = .flag }
        values = v
    }

    /// The pass these values describe.
    /// - Throws: `PassError.invalidParameter` naming the parameter at fault.
    public init(parameters given: PassParameters) throws {
        try given.check(Self.declaredParameters)
        guard let word = given.text(Parameter.gguf) else { throw Parameter.gguf.invalid("", "`gguf` needs a file type") }
        guard let fileType = GGUFFileType.named(word) else {
            throw Parameter.gguf.invalid(word, "`gguf` must be one of \(GGUFFileType.names.joined(separator: ", ")) (got \(word))")
        }
        var overrides: [(pattern: String, type: GGMLType)] = []
        for item in given.list(Parameter.tensorType) {
            guard let eq = item.lastIndex(of: "="), case let pattern = String(item[..<eq]), !pattern.isEmpty,
                  let type = GGMLType(name: String(item[item.index(after: eq)...])) else {
                throw Parameter.tensorType.invalid(item, "`tensor-type` takes REGEX=TYPE with a ggml type aicompress encodes (got \(item))")
            }
            guard type.hasQuantizer else { throw Parameter.tensorType.invalid(item, "no quantizer for \(type)") }
            overrides.append((pattern, type))
        }
        self.init(fileType: fileType, pure: given.flag(Parameter.pure), overrides: overrides,
                  allowRequantize: given.flag(Parameter.allowRequantize))
    }

    /// The values that rebuild this pass.
    public var parameterValues: PassParameters { values }

    /// This pass as llama-quantize --imatrix runs: every tensor `matrix` names whose type reads
    /// importance weights (`GGMLType.usesImportance`) is encoded with them, and the type rules
    /// that depend on an imatrix apply (`GGUFTypePlanner.hasImportance`).
    public func withImportance(_ matrix: ImportanceMatrix) -> GGUFQuantize {
        var q = self
        q.importance = matrix
        q.planner = GGUFTypePlanner(fileType: planner.fileType, pure: planner.pure, overrides: planner.overrides, hasImportance: true)
        return q
    }

    /// This pass with `calibrator`'s tensors in place of round-to-nearest for the tensors it
    /// returns (each must be the planned type and shape); `words` go to provenance.
    public func withCalibration(_ words: [(String, String)], _ calibrator: @escaping Calibrator,
                                reports: CalibratedReport? = nil) -> GGUFQuantize {
        var q = self
        q.calibration = (words, calibrator)
        q.calibratedReport = reports
        return q
    }

    /// Provenance words.
    public var parameters: [(String, String)] {
        var p = [("type", planner.fileType.name)]
        p += calibration?.words ?? []
        if planner.pure { p.append(("pure", "true")) }
        for o in planner.overrides { p.append(("tensor-type", "\(o.pattern)=\(o.type.name)")) }
        if let importance { p.append(("imatrix", importance.source)) }
        return p
    }

    /// Each tensor's decision and its size after the pass (nil type: unchanged).
    public func plan(_ model: Model) throws -> [(decision: GGUFTypePlanner.Decision, bytesBefore: Int, bytesAfter: Int)] {
        let decisions = try planner.plan(model.tensors.map { ($0.name, $0.shape.dims) })
        return zip(model.tensors, decisions).map { t, d in
            (d, t.storedBytes, d.type.flatMap { $0.byteCount(elements: t.elementCount) } ?? t.storedBytes)
        }
    }

    public func prepare(_ model: Model) throws -> any TensorTransform {
        let decisions = try planner.plan(model.tensors.map { ($0.name, $0.shape.dims) })
        var types = [String: GGMLType]()
        for d in decisions { if let t = d.type { types[d.name] = t } }
        // Writing a "quantized" file in which nothing was quantized would report success for a
        // model this pass does not apply to (weights held as graph inputs or attributes, say).
        guard !types.isEmpty else {
            throw PassError.nothingSelected("no weight matrix in the model gets a ggml type (1-D tensors, norms and "
                + "tensors whose name does not end in 'weight' are left as they are)")
        }
        if !allowRequantize, let r = requantized(model.tensors, decisions) { throw Self.requantizeRefusal(r) }
        if planner.fileType.requiresImportance && calibration == nil { try checkImportance(decisions) }
        let calibrated = try calibration?.calibrator(model, types) ?? [String: Tensor]()
        return Transform(types: types, fileType: planner.fileType, importance: importance, calibrated: calibrated,
                         method: calibration?.words.first { $0.0 == "method" }?.1 ?? "gptq", report: calibratedReport)
    }

    /// A tensor already in a block type that this pass would encode again.
    public struct Requantized: Equatable, Sendable {
        /// The tensor's name.
        public let tensor: String
        /// Its type in the input.
        public let from: GGMLType
        /// The type it would get.
        public let to: GGMLType
    }

    /// The first tensor of `model`, in model order, that is in a quantized ggml type and would
    /// be encoded again: planned into another type (llama-quantize's rule), or, with a calibrated
    /// method, a block tensor (`blk.N.…`: the projections, which GPTQ and AWQ re-encode from their
    /// decoded values) planned into a block type; nil if none. F16, BF16 and F32 are not quantized.
    public func requantized(_ model: Model) throws -> Requantized? {
        try requantized(model.tensors, planner.plan(model.tensors.map { ($0.name, $0.shape.dims) }))
    }

    func requantized(_ tensors: [Tensor], _ decisions: [GGUFTypePlanner.Decision]) -> Requantized? {
        for (t, d) in zip(tensors, decisions) {
            guard case .ggml(let from) = t.encoding, from.isQuantized, let to = d.type else { continue }
            if to != from || (calibration != nil && to.isQuantized && t.name.hasPrefix("blk.")) {
                return Requantized(tensor: t.name, from: from, to: to)
            }
        }
        return nil
    }

    /// The refusal of `r` without `allow-requantize` (a usage error, as llama-quantize's).
    public static func requantizeRefusal(_ r: Requantized) -> PassError {
        Parameter.allowRequantize.invalid("", "tensor '\(r.tensor)' is already \(r.from.name): requantizing it to \(r.to.name) "
            + "rounds it a second time (the errors add up); `allow-requantize` does it anyway, or quantize the "
            + "F16/F32 original (llama-quantize refuses this too without --allow-requantize)")
    }

    /// llama-quantize's `tensor_requires_imatrix`: in a Q2_K_S file every Q2_K tensor but
    /// token_embd and output needs its importance, and it refuses to write one without.
    /// - Throws: `PassError.invalidParameter` without a matrix, `.unsupported` for a tensor the
    ///   matrix does not name.
    func checkImportance(_ decisions: [GGUFTypePlanner.Decision]) throws {
        let exempt: Set = ["token_embd.weight", "per_layer_token_embd.weight", "output.weight"]
        for d in decisions where d.type == .q2_K && !exempt.contains(d.name) {
            guard let importance else {
                throw Parameter.gguf.invalid(planner.fileType.name, "`gguf` \(planner.fileType.name) needs an importance matrix "
                    + "(`imatrix` or `calibration`), as llama-quantize does: tensor '\(d.name)' would be Q2_K without one")
            }
            guard importance.columns[d.name] != nil else {
                throw PassError.unsupported(tensor: d.name, reason: "\(planner.fileType.name) makes it Q2_K, which needs its importance, "
                    + "and \(importance.source) has none for it (llama-quantize refuses this too)")
            }
        }
    }

    struct Transform: TensorTransform {
        let types: [String: GGMLType]
        let fileType: GGUFFileType
        let importance: ImportanceMatrix?
        /// Tensors encoded by the calibrated method, asked for by name.
        var calibrated: any CalibratedTensors = [String: Tensor]()
        /// The calibrated method's name, for the reports.
        var method = "gptq"
        /// The calibrated method's own reports, if it makes them.
        var report: CalibratedReport? = nil

        /// The rows of a tensor are spread over the cores (`GGMLRowQuantizer`).
        var parallelInside: Bool { true }

        func outputMetadata(_ metadata: inout [String: String]) {
            metadata["gguf.file_type"] = String(fileType.id)
        }

        /// The calibrated method's `writtenLast` tensors after the others, each group in model order.
        func outputOrder(_ tensors: [Tensor]) -> [Tensor] {
            let last = calibrated.writtenLast
            guard !last.isEmpty else { return tensors }
            return tensors.filter { !last.contains($0.name) } + tensors.filter { last.contains($0.name) }
        }

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard let type = types[t.name] else {
                // A tensor left unquantized (a norm AWQ folds a scale into) may be replaced by one
                // of its own dtype and shape.
                guard let done = try calibrated.tensor(named: t.name) else { return (t, nil) }
                guard t.isDense, done.isDense, done.dtype == t.dtype, done.shape == t.shape else {
                    throw PassError.unsupported(tensor: t.name, reason: "the calibrated tensor is not a \(t.dtype) tensor of that shape")
                }
                return (done, nil)
            }
            if let done = try calibrated.tensor(named: t.name) {
                guard done.ggmlType == type, done.shape == t.shape else {
                    throw PassError.unsupported(tensor: t.name, reason: "the calibrated tensor is not the planned \(type.name) of that shape")
                }
                return (done, try report?(t.name) ?? GGMLRowQuantizer.report(original: t, encoded: done, type: type, method: method))
            }
            if t.ggmlType == type || (t.isDense && GGUFQuantize.plainType(t.dtype) == type) { return (t, nil) }
            guard t.dtype.isFloatingPoint else { return (t, nil) }
            let source: Tensor
            if case .sparse = t.encoding { source = try t.densified() } else { source = t }
            return try GGMLRowQuantizer.quantize(source, to: type, importance: try columns(of: t, type))
        }

        /// The importance of `t`'s columns, as llama-quantize looks it up: none for a type that
        /// ignores it or a tensor the matrix does not name; a size mismatch is an error except
        /// for token_embd (never a matmul input, llama.cpp skips it silently).
        func columns(of t: Tensor, _ type: GGMLType) throws -> [Float]? {
            guard let importance, type.usesImportance, let values = importance.columns[t.name] else { return nil }
            let row = t.shape.dims.last ?? 1
            if importance.multiMatrix.contains(t.name) || values.count != row {
                if t.name.hasPrefix("token_embd") { return nil }
                throw PassError.unsupported(tensor: t.name, reason: "the importance matrix \(importance.source) has \(values.count) "
                    + "values for it; its rows have \(row) (one matrix)")
            }
            return values
        }
    }

    /// The plain ggml type of a dense dtype, if any.
    static func plainType(_ dtype: DType) -> GGMLType? {
        switch dtype {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        default: return nil
        }
    }
}
