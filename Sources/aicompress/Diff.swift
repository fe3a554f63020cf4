import AICompressCore
import AICompressFormats
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress diff A B`: what changed between two models, tensor by tensor.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Compare two models tensor by tensor (an original and its compressed form).",
            discussion: """
                For every tensor name in either model: dtype, shape and encoding changes, stored \
                bytes, sparsity, and — when the shapes match — the relative L2 error, SQNR and the \
                largest absolute difference of B's values against A's (quantized and sparse \
                tensors are decoded first). Totals at the end, then the metadata keys that differ \
                (GGUF's typed pairs one by one) and the graphs' op counts. Exit code 0 whether or not they \
                differ. The --json schema (aicompress.diff/1) is in spec/cli-json.md.

                Examples:
                  aicompress diff model.onnx model-int8.onnx
                  aicompress diff --json original.ckpt pruned.ckpt | jq '.totals'
                """
        )

        @Argument(help: "The reference model.")
        var a: String

        @Argument(help: "The model to compare with it.")
        var b: String

        @Flag(help: "Print JSON (schema aicompress.diff/1).")
        var json = false

        /// One tensor name: its tensor in A and in B (nil where absent), and how B's values
        /// differ from A's when both are there with the same shape.
        struct Row {
            let name: String
            let a: Tensor?, b: Tensor?
            let sparsityA: Double?, sparsityB: Double?
            let difference: TensorDifference?

            init(name: String, a: Tensor?, b: Tensor?) {
                (self.name, self.a, self.b) = (name, a, b)
                sparsityA = a.map { $0.statistics().sparsity }
                sparsityB = b.map { $0.statistics().sparsity }
                if let a, let b { difference = TensorDifference(original: a, changed: b) } else { difference = nil }
            }
        }

        func run() throws {
            let left = try ModelIO.read(path: a).model, right = try ModelIO.read(path: b).model
            var names = left.tensors.map(\.name)
            for t in right.tensors where left.tensor(named: t.name) == nil { names.append(t.name) }
            let rows = names.map { Row(name: $0, a: left.tensor(named: $0), b: right.tensor(named: $0)) }
            let bytesA = left.storedBytes, bytesB = right.storedBytes
            let header = ModelHeaderDifference(left, right)
            if json {
                try FileHandleOutput.stdout(jsonReport(rows, bytesA, bytesB, header).rendered() + "\n")
            } else {
                try FileHandleOutput.stdout(text(rows, bytesA, bytesB) + header.metadataText() + header.graphText())
            }
        }

        func describe(_ t: Tensor?) -> String {
            guard let t else { return "-" }
            return "\(t.dtype)\(t.isDense ? "" : "/" + t.encoding.description) \(t.shape)"
        }

        func text(_ rows: [Row], _ bytesA: Int, _ bytesB: Int) -> String {
            var table: [[String]] = []
            for r in rows {
                let same = r.a != nil && r.b != nil && describe(r.a) == describe(r.b)
                table.append([
                    r.name, describe(r.a), same ? "=" : describe(r.b),
                    r.a.map { Format.count($0.storedBytes) } ?? "-", r.b.map { Format.count($0.storedBytes) } ?? "-",
                    r.sparsityA.map(Format.percent) ?? "-", r.sparsityB.map(Format.percent) ?? "-",
                    r.difference.map { Format.number($0.relativeError) } ?? "-",
                    r.difference.map { $0.sqnr.isFinite ? String(format: "%.1f", $0.sqnr) : "exact" } ?? "-",
                    r.difference.map { Format.number($0.maxAbs) } ?? "-",
                ])
            }
            var out = "A: \(a)\nB: \(b)\n\n"
            out += Format.table(header: ["tensor", "A", "B", "bytes A", "bytes B", "zeros A", "zeros B", "rel err", "SQNR dB", "max |A-B|"],
                                rows: table, rightAligned: Set(3..<10))
            let onlyA = rows.filter { $0.b == nil }.count, onlyB = rows.filter { $0.a == nil }.count
            out += "\ntotal: \(Format.bytes(bytesA)) -> \(Format.bytes(bytesB)) of tensor data"
                + (bytesB > 0 ? String(format: " (%.2fx)", Double(bytesA) / Double(bytesB)) : "")
                + ", \(rows.filter { ($0.difference?.relativeError ?? 0) > 0 }.count) tensors with changed values"
                + ", \(rows.filter { $0.a != nil && $0.b != nil && $0.a!.shape != $0.b!.shape }.count) with changed shapes"
                + (onlyA + onlyB > 0 ? ", \(onlyA) only in A, \(onlyB) only in B" : "") + "\n"
            return out
        }

        func jsonReport(_ rows: [Row], _ bytesA: Int, _ bytesB: Int, _ header: ModelHeaderDifference) -> JSON {
            func side(_ t: Tensor?, _ sparsity: Double?) -> JSON {
                guard let t else { return .null }
                return .object([
                    ("dtype", .string(t.dtype.name)), ("encoding", .string(t.encoding.description)),
                    ("shape", .array(t.shape.dims.map { .int($0) })), ("bytes", .int(t.storedBytes)),
                    ("sparsity", .number(sparsity)),
                ])
            }
            return .object([
                ("schema", .string("aicompress.diff/1")),
                ("a", .string(a)), ("b", .string(b)),
                ("tensors", .array(rows.map { r in
                    .object([
                        ("name", .string(r.name)), ("a", side(r.a, r.sparsityA)), ("b", side(r.b, r.sparsityB)),
                        ("relative_error", .number(r.difference?.relativeError)), ("sqnr_db", .number(r.difference?.sqnr)),
                        ("max_abs_diff", .number(r.difference?.maxAbs)),
                    ])
                })),
                ("totals", .object([("bytes_a", .int(bytesA)), ("bytes_b", .int(bytesB)),
                                    ("ratio", bytesB > 0 ? .double(Double(bytesA) / Double(bytesB)) : .null)])),
            ] + header.json())
        }
    }
}
