import AICompressCore
import AICompressFormats
import AICompressPasses
import Foundation

/// Runs one pass from an input file to an output file. A .ckpt output is streamed: each tensor
/// is transformed, written and dropped before the next (and the mapped input pages it came from
/// are released), so memory stays near one tensor; other formats need every size before the
/// first byte and are written from the finished model.
enum PassRunner {
    /// `recipe` is the pass as recipe steps: they are appended to the recipe recorded in the
    /// input (metadata `aicompress.recipe`), so `aicompress recipe OUT` can reproduce the file.
    static func run(_ pass: any CompressionPass, input: String, output: String, out: OutputOptions,
                    report options: ReportOptions, recipe: [Recipe.Step]) throws {
        let loaded = try ModelIO.read(path: input)
        let transform = try pass.prepare(loaded.model)
        let stepDescriptions = (pass as? Pipeline)?.passes.map(\.stepDescription) ?? [pass.stepDescription]
        var provenance = loaded.withProvenance(step: stepDescriptions.first ?? pass.stepDescription)
        for s in stepDescriptions.dropFirst() { provenance.appendStep(s) }
        provenance.metadata[Recipe.metadataKey] = Recipe.extended(loaded.model.metadata, with: recipe)
        let format = out.outputFormat(for: output)
        var report = PassReport(pass: pass.stepDescription)
        let progress = Progress(label: pass.name, tensors: loaded.model.tensors.count, bytes: loaded.model.storedBytes,
                                quiet: options.quiet)
        defer { progress.finish() }
        if format == .checkpoint {
            try ModelIO.checkNotInput(output, loaded.identities)
            let file = try OutputFile(path: output, durable: out.sync)
            do {
                let writer = try BackgroundWriter(sink: file)
                // Tensors are transformed a few at a time (each transform is also parallel
                // inside), then written in order: short parallel regions of small tensors no
                // longer leave cores idle, and at most a batch of results is held.
                let tensors = loaded.model.tensors
                let batch = max(1, ProcessInfo.processInfo.activeProcessorCount)
                nonisolated(unsafe) let work = transform
                var start = 0
                while start < tensors.count {
                    let slice = Array(tensors[start..<min(tensors.count, start + batch)])
                    let results = Parallel.map(slice.count) { i in Result { try work.transform(slice[i]) } }
                    for (t, result) in zip(slice, results) {
                        let (new, r) = try result.get()
                        try writer.append(new, thenDrop: t.data)
                        report.add(before: t, after: new, r)
                        progress.advance(bytes: t.storedBytes)
                    }
                    start += batch
                }
                try writer.finish(metadata: provenance.metadata, graph: try transform.outputGraph(loaded.model.graph))
                try file.commit()
            } catch {
                file.abort()
                if let e = error as? CheckpointError { throw ModelFileError(path: output, kind: .unrepresentable(e)) }
                throw error
            }
        } else {
            var model = Model()
            for t in loaded.model.tensors {
                let (new, r) = try transform.transform(t)
                try model.append(new)
                report.add(before: t, after: new, r)
                progress.advance(bytes: t.storedBytes)
            }
            model.metadata = provenance.metadata
            model.graph = try transform.outputGraph(loaded.model.graph)
            try ModelIO.write(model, to: output, format: format, refusing: loaded.identities, durable: out.sync,
                              onnx: out.onnx, shardSize: out.shardSize?.bytes)
        }
        progress.finish()
        if !options.quiet { FileHandleOutput.stderr(ReportRendering.text(report)) }
        if let path = options.reportJson {
            try ModelIO.checkNotInput(path, loaded.identities)
            var file = try OutputFile(path: path)
            try file.write(Array((ReportRendering.json(report, input: input, output: output).rendered() + "\n").utf8))
            try file.commit()
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
            + String(format: "(%.2fx smaller)", r.compressionRatio)
            + ", \(r.tensors.count) tensors changed, \(r.untouched) left as they were\n"
        return out
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

/// Writes checkpoint tensors on a background queue while the next tensor is computed; at most
/// two finished tensors wait, so memory stays bounded. The first write error is reported by the
/// next call.
final class BackgroundWriter: @unchecked Sendable {
    // `writer` and `failure` are only touched on `queue`.
    private var writer: CheckpointWriter<OutputFile>
    private var failure: Error?
    private let queue = DispatchQueue(label: "aicompress.writer")
    private let slots = DispatchSemaphore(value: 2)

    init(sink: OutputFile) throws {
        writer = try CheckpointWriter(sink: sink)
    }

    /// Queues `tensor` for writing; `input` (the tensor it came from) has its mapped pages
    /// dropped once written.
    func append(_ tensor: Tensor, thenDrop input: TensorData) throws {
        try pendingFailure()
        slots.wait()
        queue.async {
            if self.failure == nil {
                do { try self.writer.append(tensor) } catch { self.failure = error }
            }
            input.dropPages()
            self.slots.signal()
        }
    }

    private func pendingFailure() throws {
        let f: Error? = queue.sync { self.failure }
        if let f { throw f }
    }

    /// Waits for the queued tensors and writes the index and footer.
    func finish(metadata: [String: String], graph: Graph?) throws {
        try pendingFailure()
        let result: Result<Void, Error> = queue.sync {
            Result { _ = try self.writer.finish(metadata: metadata, graph: graph) }
        }
        try result.get()
    }
}
