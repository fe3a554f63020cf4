import AICompressCore
import AICompressPasses
import ArgumentParser

/// `prune --method sparsegpt --quantize SCHEME [--group-size N]`: the joint sweep
/// (`SparseGPTQuantize`), on the command line and in recipes. The recipe step is the calibrated
/// prune's (method, what it removes, selection, data keys) plus `quantize` and `group-size`.
extension CalibratedStep {
    /// The keys the joint mode adds to a `prune` step (not keys of the prune pass itself).
    static let jointKeys: Set<String> = ["quantize", "group-size"]

    /// The `Quantize` pass whose grid the joint sweep rounds onto: `scheme` with `groupSize`
    /// (nil: the scheme's granularity), over the prune's selection values.
    /// - Throws: `ValidationError` naming the flag at fault.
    static func jointBase(scheme: String, groupSize: Int?, selection: PassParameters) throws -> Quantize {
        typealias Q = Quantize.Parameter
        do { try SparseGPTQuantize.Parameter.quantize.check(.text(scheme)) } catch let e as PassError {
            throw ValidationError(e.commandLineMessage)
        }
        var values = selection
        values[Q.scheme] = .text(scheme)
        values[Q.groupSize] = groupSize.map { .integer($0) }
        return try Quantize.fromCommandLine(values)
    }

    /// The joint pass a recorded `prune` step describes (`quantize` given), or nil without one.
    /// - Throws: the reason, for a method other than sparsegpt or a language-model input.
    static func jointPass(method: String, quantize: String?, groupSize: String?, pattern: SparsityPattern,
                          selection: TensorSelection, calibration: CalibrationData?,
                          languageModel: Bool) throws -> SparseGPTQuantize? {
        guard let scheme = quantize else {
            if groupSize != nil { throw ValidationError("the key 'group-size' goes with the key 'quantize'") }
            return nil
        }
        guard method == "sparsegpt" else { throw ValidationError("the key 'quantize' goes with method sparsegpt") }
        guard !languageModel else { throw ValidationError("the key 'quantize' goes with graph models (ONNX, .ckpt)") }
        guard let data = calibration else { throw ValidationError("sparsegpt needs the key 'calibration'") }
        let size = try groupSize.map { w in
            guard let n = Int(w) else { throw ValidationError("the key 'group-size' is not an integer: \(w)") }
            return n
        }
        let base = try jointBase(scheme: scheme, groupSize: size, selection: selection.parameterValues)
        return SparseGPTQuantize(base: base, pattern: pattern, calibration: data)
    }
}

extension CalibrationOptions {
    /// The recipe step of the joint sweep: the calibrated prune's keys, `quantize` and
    /// `group-size` (when given), then the data.
    func jointRecipeStep(_ pass: SparseGPTQuantize) throws -> Recipe.Step {
        var step = CalibratedStep.prune(method: "sparsegpt", pattern: pass.pattern,
                                        selection: Recipe.Step.options(pass.base.selection.parameterValues, TensorSelection.Parameter.all),
                                        calibration: try recipeOptions(text: false))
        var joint = [CalibratedStep.option("quantize", pass.base.scheme.id)]
        if case .group(let n) = pass.base.granularity, pass.base.parameterValues.integer(Quantize.Parameter.groupSize) != nil {
            joint.append(CalibratedStep.option("group-size", "\(n)"))
        }
        step.options.insert(contentsOf: joint, at: 2)
        return step
    }
}
