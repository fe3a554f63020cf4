import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser
import Foundation

/// `aicompress quantize`: integer or half-precision weights with an error report.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize weights: \(QuantizationScheme.all.map(\.id).dropLast().joined(separator: ", ")) "
            + "or \(QuantizationScheme.all.last?.id ?? "").",
        discussion: """
            Integer schemes store integers plus scales (and zero points for asymmetric ones): \
            int8 is symmetric per output channel by default, uint8 asymmetric per channel, \
            int4/uint4 use groups of 32 along the input dimension. The arithmetic follows \
            onnxruntime's quantizer (0 exactly representable, round half to even), so int8/uint8 \
            per-tensor and per-channel results equal its quantize_dynamic bit for bit; zeros \
            (e.g. from pruning) stay exactly zero. The output channel and input axis come from \
            the graph (MatMul [K,N], Gemm transB, Conv) or, without one, the [out, in] layout of \
            PyTorch. 1-D tensors and embeddings are left alone unless selected. ONNX output gets \
            DequantizeLinear nodes (QDQ) that onnxruntime runs; safetensors output gets \
            NAME_scale / NAME_zero_point tensors. A report (bits/weight, SQNR, errors, size) \
            goes to stderr.

            Examples:
              aicompress quantize --list
              aicompress quantize --int8 model.onnx model-int8.onnx
              aicompress quantize --int4 --group-size 64 model.safetensors q4.ckpt
              aicompress quantize --uint8 --per-tensor --clip percentile:99.99 in.ckpt out.ckpt
              aicompress quantize --int8 --exclude 'classifier.*' --report-json r.json in.ckpt out.ckpt
            """
    )

    @Flag(help: "The scheme (default int8).")
    var scheme: Quantize.Scheme = .int8

    @Flag(help: "Print every scheme with its bits per weight and typical error, then exit.")
    var list = false

    @Flag(name: .customLong("per-tensor"), help: "One scale for the whole tensor.")
    var perTensor = false

    @Flag(name: .customLong("per-channel"), help: "One scale per output channel (default for 8-bit).")
    var perChannel = false

    @Option(help: "One scale per group of N weights along the input axis (default 32 for 4-bit).")
    var groupSize: Int?

    @Flag(help: "Symmetric range, zero point 0 (default for int8/int4).")
    var symmetric = false

    @Flag(help: "Asymmetric range with a zero point (default for uint8/uint4).")
    var asymmetric = false

    @Option(help: "Range of each group: minmax (default), percentile:P (e.g. percentile:99.99), or mse.")
    var clip: ClipArgument = ClipArgument(value: .minMax)

    @OptionGroup var selection: SelectionOptions
    @OptionGroup var report: ReportOptions
    @OptionGroup var out: OutputOptions

    @Argument(help: "Input model, or - for standard input.")
    var input: String?

    @Argument(help: "Output file, or - for standard output.")
    var output: String?

    func validate() throws {
        if list { return }
        guard input != nil, let output else { throw ValidationError("give an input and an output file (or --list)") }
        if [perTensor, perChannel, groupSize != nil].filter({ $0 }).count > 1 {
            throw ValidationError("choose one of --per-tensor, --per-channel and --group-size")
        }
        if symmetric && asymmetric { throw ValidationError("choose --symmetric or --asymmetric, not both") }
        if let g = groupSize, g < 1 { throw ValidationError("--group-size must be at least 1") }
        if scheme.storage == nil && (perTensor || perChannel || groupSize != nil || symmetric || asymmetric || clip.value != .minMax) {
            throw ValidationError("--\(scheme.rawValue) is a plain cast: granularity, symmetry and clipping do not apply")
        }
        do { try pass.validate() } catch let e as PassError { throw ValidationError(e.description) }
        try out.check(output: output)
    }

    var pass: Quantize {
        let granularity: Quantize.Granularity? = perTensor ? .perTensor : perChannel ? .perChannel : groupSize.map { .group($0) }
        return Quantize(scheme: scheme, granularity: granularity, symmetric: symmetric ? true : asymmetric ? false : nil,
                        clip: clip.value, selection: selection.selection)
    }

    func run() throws {
        if list {
            try FileHandleOutput.stdout(QuantizeCommand.schemeTable())
            return
        }
        do {
            try PassRunner.run(pass, input: input!, output: output!, out: out, report: report, recipe: [recipeStep])
        } catch let e as PassError {
            switch e {
            case .invalidParameter, .nothingSelected: throw ExitStatus.Failure(code: ExitStatus.usage, message: e.description)
            default: throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(input!): \(e.description)")
            }
        }
    }

    /// Every scheme of the table with bits per weight and the SQNR it reaches on N(0, 1) weights,
    /// measured now (`SchemeListing`).
    static func schemeTable() throws -> String {
        let rows = try SchemeListing.rows().map { row in
            [row.label, String(format: "%.3f", row.report.bitsPerWeight), String(format: "%.1f", row.report.sqnr),
             String(format: "%.2e", row.report.relativeError), row.layout]
        }
        return Format.table(header: ["scheme", "bits/weight", "SQNR dB", "rel. error", "layout"], rows: rows,
                            rightAligned: [1, 2, 3])
            + "(bits/weight include scales and zero points; SQNR and error measured now on N(0,1) weights "
            + "\(SchemeListing.shape);\n"
            + " 32 bits/weight is f32: int8 is 4x smaller, int4 g32 6.4x.)\n"
    }
}

extension Quantize.Scheme: EnumerableFlag {
    public static func name(for value: Self) -> NameSpecification { .customLong(value.id) }
    public static func help(for value: Self) -> ArgumentHelp? { ArgumentHelp(value.help) }
}

/// A `--clip` value.
struct ClipArgument: ExpressibleByArgument {
    let value: ClipMethod
    init(value: ClipMethod) { self.value = value }
    init?(argument: String) {
        switch argument {
        case "minmax": value = .minMax
        case "mse": value = .mse
        default:
            guard argument.hasPrefix("percentile:"), let p = Double(argument.dropFirst("percentile:".count)) else { return nil }
            value = .percentile(p)
        }
    }
    var defaultValueDescription: String { value.description }
}

/// `aicompress dequantize IN OUT`: floats back from a quantized model.
struct DequantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dequantize",
        abstract: "Turn quantized tensors back into floats.",
        discussion: """
            Every quantized tensor becomes dense again in the dtype it was quantized from, \
            value = (q - zero point) × scale. Other tensors are copied.

            Examples:
              aicompress dequantize model-int8.ckpt model-f32.ckpt
              aicompress dequantize q4.ckpt - | aicompress inspect -
            """
    )

    @Argument(help: "Input model, or - for standard input.")
    var input: String

    @Argument(help: "Output file, or - for standard output.")
    var output: String

    @OptionGroup var report: ReportOptions
    @OptionGroup var out: OutputOptions

    func validate() throws { try out.check(output: output) }

    func run() throws {
        try PassRunner.run(Dequantize(), input: input, output: output, out: out, report: report,
                           recipe: [Recipe.Step(command: "dequantize", options: [])])
    }
}
