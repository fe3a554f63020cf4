import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser

private typealias P = Prune.Parameter

extension AICompress {
    /// `aicompress prune`: magnitude, N:M and channel pruning. Option names and help come from
    /// `Prune.Parameter`; the pass checks the values.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
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

        @Option(name: .parameter(P.keep), help: ArgumentHelp(P.keep))
        var keep: Double?

        @Option(name: .parameter(P.sparsity), help: ArgumentHelp(P.sparsity))
        var sparsity: Double?

        @Option(name: .parameter(P.scope), help: ArgumentHelp(P.scope))
        var scope: AICompressPasses.Prune.Scope = .tensor

        @Option(name: .parameter(P.pattern), help: ArgumentHelp(P.pattern))
        var pattern: String?

        @Option(name: .parameter(P.norm), help: ArgumentHelp(P.norm))
        var norm: AICompressPasses.Prune.Norm = .l2

        @OptionGroup var selection: SelectionOptions
        @OptionGroup var report: ReportOptions
        @OptionGroup var out: OutputOptions

        @OptionGroup var files: InputOutputArguments

        /// The command line as the pass's parameter values (checked by `AICompressPasses.Prune(parameters:)`).
        var parameters: PassParameters {
            var v = selection.parameters
            v[P.keep] = keep.map { .number($0) }
            v[P.sparsity] = sparsity.map { .number($0) }
            v[P.scope] = .text(scope.rawValue)
            v[P.pattern] = pattern.map { .text($0) }
            v[P.norm] = .text(norm.rawValue)
            return v
        }

        func validate() throws {
            _ = try AICompressPasses.Prune.fromCommandLine(parameters)
            try out.check(output: files.output)
        }

        func run() throws {
            let pass = try AICompressPasses.Prune.fromCommandLine(parameters)
            try PassRunner.run(pass, input: files.input, output: files.output, out: out, report: report)
        }
    }
}

extension Prune.Scope: ExpressibleByArgument {}
extension Prune.Norm: ExpressibleByArgument {}
