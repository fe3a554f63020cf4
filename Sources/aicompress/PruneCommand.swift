import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser

/// `aicompress prune`: magnitude, N:M and channel pruning.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Prune weights: by magnitude, N:M semi-structured, or whole channels.",
        discussion: """
            Magnitude pruning keeps exactly round(keep × n) weights with the largest |w| (ties \
            to the earlier weight), per tensor or with one threshold over all selected tensors \
            (--scope global), found by a linear-time radix select. --pattern N:M keeps the N \
            largest of every M consecutive weights along the input (reduction) axis: MatMul \
            [K,N] along K, Gemm by transB, Conv along input channels, [out, in] without a graph. \
            --pattern channels removes the output channels with the smallest L1/L2 norm and, \
            with a graph, the matching inputs of the next layer, so the model gets smaller and \
            faster and still runs (branches, residual Adds and Concats are refused). Pruned \
            tensors are stored sparse (bitmask + values) in .ckpt when that is smaller; 1-D \
            tensors and embeddings are left alone unless selected.

            Examples:
              aicompress prune --keep 0.3 model.ckpt pruned.ckpt
              aicompress prune --sparsity 0.7 --scope global model.onnx pruned.onnx
              aicompress prune --pattern 2:4 model.safetensors sparse24.safetensors
              aicompress prune --pattern channels --keep 0.5 --norm l2 model.onnx thin.onnx
              aicompress prune --keep 0.5 model.onnx - | aicompress quantize --int8 - small.ckpt
            """
    )

    @Option(help: "Fraction of weights (or channels) to keep, 0...1.")
    var keep: Double?

    @Option(help: "Fraction of weights to remove (1 - keep).")
    var sparsity: Double?

    @Option(help: "tensor: each tensor keeps the fraction; global: one threshold across all selected tensors.")
    var scope: ScopeArgument = ScopeArgument(value: .tensor)

    @Option(help: "N:M (e.g. 2:4) for semi-structured sparsity, or 'channels' for structured pruning.")
    var pattern: String?

    @Option(help: "Channel score for --pattern channels: l1 or l2.")
    var norm: NormArgument = NormArgument(value: .l2)

    @OptionGroup var selection: SelectionOptions
    @OptionGroup var report: ReportOptions
    @OptionGroup var out: OutputOptions

    @Argument(help: "Input model, or - for standard input.")
    var input: String

    @Argument(help: "Output file, or - for standard output.")
    var output: String

    func validate() throws {
        if keep != nil && sparsity != nil { throw ValidationError("give --keep or --sparsity, not both") }
        _ = try method()
        do { try Prune(method: try method()).validate() } catch let e as PassError { throw ValidationError(e.description) }
        try out.check(output: output)
    }

    func method() throws -> Prune.Method {
        let fraction = keep ?? sparsity.map { 1 - $0 }
        if let p = pattern {
            if p == "channels" {
                guard let f = fraction else { throw ValidationError("--pattern channels needs --keep or --sparsity") }
                return .channels(keep: f, norm: norm.value)
            }
            let parts = p.split(separator: ":")
            guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else {
                throw ValidationError("--pattern must be N:M (e.g. 2:4) or 'channels'")
            }
            guard fraction == nil else { throw ValidationError("--pattern N:M fixes the sparsity; drop --keep/--sparsity") }
            guard n >= 0, n <= m, m >= 1 else { throw ValidationError("--pattern N:M needs 0 <= N <= M (got \(p))") }
            return .nm(n: n, m: m)
        }
        guard let f = fraction else { throw ValidationError("give --keep, --sparsity or --pattern") }
        guard (0...1).contains(f) else { throw ValidationError("--keep and --sparsity must be between 0 and 1") }
        return .magnitude(keep: f, scope: scope.value)
    }

    func run() throws {
        let pass = Prune(method: try method(), selection: selection.selection)
        do {
            try PassRunner.run(pass, input: input, output: output, out: out, report: report, recipe: [recipeStep])
        } catch let e as PassError {
            switch e {
            case .invalidParameter, .nothingSelected: throw ExitStatus.Failure(code: ExitStatus.usage, message: e.description)
            default: throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(input): \(e.description)")
            }
        }
    }
}

/// An option value that is one of an enum's raw string values.
struct EnumArgument<Value: RawRepresentable & CaseIterable & Sendable>: ExpressibleByArgument where Value.RawValue == String {
    let value: Value
    init(value: Value) { self.value = value }
    init?(argument: String) {
        guard let v = Value(rawValue: argument) else { return nil }
        value = v
    }
    var defaultValueDescription: String { value.rawValue }
    static var allValueStrings: [String] { Value.allCases.map(\.rawValue) }
}

typealias ScopeArgument = EnumArgument<Prune.Scope>
typealias NormArgument = EnumArgument<Prune.Norm>
