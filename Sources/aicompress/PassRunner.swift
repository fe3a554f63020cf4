import AICompressCore
import AICompressFormats
import AICompressPasses
import Foundation

/// Runs one pass from an input file to an output file through the library's `PassDriver`:
/// every output streams (each tensor written, or parked in a scratch file, and dropped before
/// the next, its mapped input pages released), within `--max-memory` when it is given.
enum PassRunner {
    /// Runs the one pass of a pass command (prune, quantize, dequantize), recording it as one
    /// recipe step; with `shard`, over that input shard only (`--shard K/N`).
    static func run<Pass: ConfigurablePass>(_ pass: Pass, input: String, output: String, out: OutputOptions,
                                            report: ReportOptions, shard: ShardPart? = nil) throws {
        try run(pass, input: input, output: output, out: out, report: report, recipe: [Recipe.Step(pass)], shard: shard)
    }

    /// `recipe` is the pass as recipe steps: they are appended to the recipe recorded in the
    /// input (metadata `aicompress.recipe`), so `aicompress recipe OUT` can reproduce the file.
    /// `verify` sees the input before any work (a sharded global prune checks its threshold file).
    static func run(_ pass: any CompressionPass, input: String, output: String, out: OutputOptions,
                    report options: ReportOptions, recipe: [Recipe.Step], parameters: ParameterSource = .commandLine,
                    shard: ShardPart? = nil, verify: (LoadedModel) throws -> Void = { _ in }) throws {
        let read = try ModelIO.read(path: input)
        let format = try out.outputFormat(for: output)
        // A Hugging Face LLaMA-family checkpoint written as GGUF gets llama.cpp's names first.
        let prepared = try HFLlamaConversion.prepared(read, for: format)
        let loaded = try shard.map { try prepared.restricted(toShard: $0, input: read.input.path) } ?? prepared
        try verify(loaded)
        let driver = PassDriver(pass: pass, input: loaded.facts,
                                metadata: [(Recipe.metadataKey, Recipe.extended(loaded.model.metadata, with: recipe))],
                                memory: out.maxMemory.map { MemoryBudget(bytes: $0.bytes) })
        let progress = Progress(label: pass.name, tensors: loaded.model.tensors.count, bytes: loaded.model.storedBytes,
                                quiet: options.quiet)
        var writeOptions = out.writeOptions
        writeOptions.shardPart = shard
        let session = try ModelIO.openWriter(path: output, format: format, refusing: loaded.identities, options: writeOptions)
        let report: PassReport
        do {
            // the progress line is erased before the report or the error is printed
            defer { progress.finish() }
            report = try driver.run(loaded.model, into: session) { progress.advance(bytes: $0) }
            try session.commit()
        } catch {
            session.abort()
            throw (error as? PassError).map { failure($0, input: input, parameters: parameters) } ?? error
        }
        if !options.quiet {
            FileHandleOutput.stderr(ReportRendering.text(report) + ReportRendering.denseZerosNote(report, format: format, out: out))
        }
        if let path = options.reportJson {
            try FileHandleOutput.save(ReportRendering.json(report, input: input, output: output).rendered() + "\n", to: path,
                                      refusing: loaded.identities)
        }
    }
}

/// Pass reports as a table (stderr) or JSON (`aicompress.pass-report/1`, spec/cli-json.md).
enum ReportRendering {
    static func text(_ r: PassReport) -> String {
        var rows: [[String]] = []
        for t in r.tensors {
            rows.append([t.name, t.scheme, String(format: "%.2f", t.bitsPerWeight), Format.count(t.bytesBefore),
                         Format.count(t.bytesAfter), t.sqnr.isFinite ? String(format: "%.1f", t.sqnr) : "exact",
                         Format.number(t.maxAbsError), Format.number(t.relativeError), Format.percent(t.sparsity)])
        }
        var out = r.pass + "\n"
        out += Format.table(header: ["tensor", "scheme", "bits/w", "bytes before", "bytes after", "SQNR dB", "max err",
                                     "rel err", "zeros"], rows: rows, rightAligned: Set(2..<9))
        out += "total: \(Format.bytes(r.totalBytesBefore)) -> \(Format.bytes(r.totalBytesAfter)) of tensor data "
            + sizeChange(before: r.totalBytesBefore, after: r.totalBytesAfter)
            + ", \(r.tensors.count) tensors changed, \(r.untouched) left as they were\n"
        return out
    }

    /// `(4.00x smaller)`, `(1.55x larger)` (dequantize), or `(no tensor data)`.
    static func sizeChange(before: Int, after: Int) -> String {
        guard before > 0, after > 0 else { return before == after ? "(no tensor data)" : "(from \(before) to \(after) bytes)" }
        return after > before ? String(format: "(%.2fx larger)", Double(after) / Double(before))
                              : String(format: "(%.2fx smaller)", Double(before) / Double(after))
    }

    /// Where sparse storage would help: the output's format stored a pruned tensor's zeros
    /// densely (the sizes above are what it stores), and .ckpt would not.
    static func denseZerosNote(_ r: PassReport, format: ModelFormat, out: OutputOptions) -> String {
        guard r.denselyStoredZeros > 0, format != .checkpoint else { return "" }
        let sizes = "\(Format.bytes(r.denselyStoredBytes)) where .ckpt would store them in \(Format.bytes(r.sparseEncodingBytes))"
        if format == .onnx && out.sparseInitializers {
            return "note: as sparse_initializer (8-byte indices) the pruned tensors take \(sizes)\n"
        }
        let alternative = format == .onnx ? "; --sparse-initializers writes them as sparse_initializer" : ""
        return "note: the \(format) output stores the \(Format.count(r.denselyStoredZeros)) zeros of the pruned tensors densely, "
            + "\(sizes)\(alternative)\n"
    }

    static func json(_ r: PassReport, input: String, output: String) -> JSON {
        .object([
            ("schema", .string("aicompress.pass-report/1")),
            ("pass", .string(r.pass)),
            ("input", .string(input)),
            ("output", .string(output)),
            ("tensors", .array(r.tensors.map { t in
                .object([
                    ("name", .string(t.name)),
                    ("scheme", .string(t.scheme)),
                    ("elements", .int(t.elements)),
                    ("bytes_before", .int(t.bytesBefore)),
                    ("bytes_after", .int(t.bytesAfter)),
                    ("bits_per_weight", .double(t.bitsPerWeight)),
                    ("sqnr_db", .number(t.sqnr)),
                    ("max_abs_error", .double(t.maxAbsError)),
                    ("relative_error", .number(t.relativeError)),
                    ("zeros_after", .int(t.zerosAfter)),
                    ("sparsity", .double(t.sparsity)),
                ])
            })),
            ("totals", .object([
                ("bytes_before", .int(r.totalBytesBefore)),
                ("bytes_after", .int(r.totalBytesAfter)),
                ("compression_ratio", .double(r.compressionRatio)),
                ("tensors_changed", .int(r.tensors.count)),
                ("tensors_untouched", .int(r.untouched)),
            ])),
        ])
    }
}

