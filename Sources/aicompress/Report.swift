import AICompressCore
import AICompressFormats
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress report MODEL [--compare ORIGINAL] -o report.html`: one self-contained HTML page.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Write a self-contained HTML report with per-layer charts and weight histograms.",
            discussion: """
                One HTML file, no scripts and no network: inline SVG bar charts of each tensor's \
                stored size, sparsity and bits per weight, and (with --compare) the relative error \
                and SQNR of each tensor against the original and the size before and after; then a \
                weight histogram per tensor (the original's outline overlaid) and the full table. \
                Opens in any browser; prints to PDF.

                Examples:
                  aicompress report small.ckpt --compare model.onnx -o report.html
                  aicompress report model.safetensors -o - > report.html
                """
        )

        @Argument(help: "Model file, or - for standard input.")
        var model: String

        @Option(help: "The original model, to chart the error and size change per tensor.")
        var compare: String?

        @Option(name: .shortAndLong, help: "Output HTML file, or - for standard output.")
        var output: String

        @Option(help: "Histograms for at most this many tensors (the largest).")
        var histograms = 24

        @Option(help: "Bins per histogram.")
        var bins = 40

        func validate() throws {
            guard (1...200).contains(bins) else { throw ValidationError("--bins must be between 1 and 200") }
            guard histograms >= 0 else { throw ValidationError("--histograms must not be negative") }
        }

        struct Row {
            var name: String
            var dtype: String
            var encoding: String
            var shape: String
            var elements: Int
            var bytes: Int
            var sparsity: Double
            var bitsPerWeight: Double
            var originalBytes: Int?
            var relativeError: Double?
            var sqnr: Double?
            var low: Double, high: Double
            var histogram: [Int]
            var originalHistogram: [Int]?
        }

        func run() throws {
            let loaded = try ModelIO.read(path: model)
            let original = try compare.map { try ModelIO.read(path: $0) }
            var rows = [Row]()
            let byName = Dictionary(original?.model.tensors.map { ($0.name, $0) } ?? [], uniquingKeysWith: { a, _ in a })
            let ranked = Set(loaded.model.tensors.sorted { $0.elementCount > $1.elementCount }.prefix(histograms).map(\.name))
            for t in loaded.model.tensors {
                let s = t.statistics()
                let o = byName[t.name]
                var lo = s.min ?? 0, hi = s.max ?? 0
                if let os = o?.statistics() { lo = min(lo, os.min ?? lo); hi = max(hi, os.max ?? hi) }
                if hi <= lo { hi = lo + 1 }
                let wantHistogram = ranked.contains(t.name) && t.elementCount > 1
                var row = Row(name: t.name, dtype: "\(t.dtype)", encoding: "\(t.encoding)", shape: t.shape.description,
                              elements: t.elementCount, bytes: t.storedBytes,
                              sparsity: t.elementCount > 0 ? Double(s.zeros) / Double(t.elementCount) : 0,
                              bitsPerWeight: t.elementCount > 0 ? Double(t.storedBytes * 8) / Double(t.elementCount) : 0,
                              originalBytes: o?.storedBytes, relativeError: nil, sqnr: nil, low: lo, high: hi,
                              histogram: wantHistogram ? t.histogram(bins: bins, low: lo, high: hi) : [],
                              originalHistogram: wantHistogram ? o?.histogram(bins: bins, low: lo, high: hi) : nil)
                if let o, let d = TensorDifference(original: o, changed: t) {
                    row.relativeError = d.relativeError
                    row.sqnr = d.sqnr
                }
                rows.append(row)
            }
            let html = Report.page(model: model, loaded: loaded, compare: compare, original: original, rows: rows)
            let bytes = Array(html.utf8)
            if output == "-" {
                try FileHandleOutput.stdout(html)
            } else {
                try ModelIO.checkNotInput(output, loaded.identities + (original?.identities ?? []))
                var file = try OutputFile(path: output)
                try file.write(bytes)
                try file.commit()
            }
        }

        // MARK: HTML

        static func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }

        static func num(_ v: Double) -> String { String(format: "%.2f", v) }

        /// A horizontal bar chart: one row per tensor, up to two series (now, and the original).
        /// At most 34 characters, cut in the middle so both the layer number and the kind survive.
        static func shortName(_ s: String) -> String {
            guard s.count > 34 else { return s }
            return String(s.prefix(14)) + "…" + String(s.suffix(19))
        }

        static func compactBytes(_ n: Double) -> String {
            let units = ["B", "KiB", "MiB", "GiB", "TiB"]
            var v = n, u = 0
            while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
            return u == 0 ? "\(Int(v)) B" : String(format: "%.1f %@", v, units[u])
        }

        /// `capped` rows (value beyond the axis, or exact) are drawn in a lighter colour.
        static func barChart(id: String, title: String, rows: [(String, Double, Double?)], maxValue: Double? = nil,
                             format: (Double) -> String, legend: (String, String?), capped: Set<Int> = []) -> String {
            let labelWidth = 240.0, barWidth = 520.0, rowHeight = 18.0, top = 28.0
            let height = top + Double(rows.count) * rowHeight + 12
            let peak = maxValue ?? max(rows.map { max($0.1, $0.2 ?? 0) }.max() ?? 1, 1e-12)
            var s = "<figure><figcaption>\(escape(title))</figcaption>\n"
            s += "<svg class=\"chart\" data-chart=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + barWidth + 170))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">\n"
            s += "<rect class=\"legend-now\" x=\"\(labelWidth)\" y=\"6\" width=\"12\" height=\"12\"/><text x=\"\(labelWidth + 16)\" y=\"16\">\(escape(legend.0))</text>\n"
            if let l = legend.1 {
                s += "<rect class=\"legend-before\" x=\"\(labelWidth + 160)\" y=\"6\" width=\"12\" height=\"12\"/><text x=\"\(labelWidth + 176)\" y=\"16\">\(escape(l))</text>\n"
            }
            for (i, r) in rows.enumerated() {
                let y = top + Double(i) * rowHeight
                s += "<text class=\"label\" x=\"\(labelWidth - 6)\" y=\"\(y + 12)\" text-anchor=\"end\"><title>\(escape(r.0))</title>\(escape(shortName(r.0)))</text>\n"
                var end = 0.0
                if let b = r.2 {
                    let w = max(barWidth * min(b, peak) / peak, b > 0 ? 1 : 0)
                    end = w
                    s += "<rect class=\"bar-before\" x=\"\(labelWidth)\" y=\"\(y + 1)\" width=\"\(num(w))\" height=\"\(rowHeight - 3)\"><title>\(escape(r.0)): \(format(b))</title></rect>\n"
                }
                let w = max(barWidth * min(r.1, peak) / peak, r.1 > 0 ? 1 : 0)
                end = max(end, w)
                let inset = r.2 == nil ? 0.0 : 4.0
                let cls = capped.contains(i) ? "bar capped" : "bar"
                s += "<rect class=\"\(cls)\" x=\"\(labelWidth)\" y=\"\(y + 1 + inset)\" width=\"\(num(w))\" height=\"\(rowHeight - 3 - 2 * inset)\"><title>\(escape(r.0)): \(format(r.1))</title></rect>\n"
                let shown = r.2.map { "\(format(r.1)) of \(format($0))" } ?? format(r.1)
                s += "<text class=\"value\" x=\"\(num(labelWidth + end + 4))\" y=\"\(y + 12)\">\(escape(shown))</text>\n"
            }
            return s + "</svg></figure>\n"
        }

        static func histogramSVG(_ r: Row) -> String {
            let w = 300.0, h = 110.0, pad = 16.0
            let peak = Double(max(r.histogram.max() ?? 1, r.originalHistogram?.max() ?? 1, 1))
            let bw = (w - 2 * pad) / Double(max(r.histogram.count, 1))
            var s = "<figure class=\"hist\"><figcaption title=\"\(escape(r.name))\">\(escape(shortName(r.name))) <span>\(escape(r.shape)) \(escape(r.encoding))</span></figcaption>\n"
            s += "<svg class=\"histogram\" data-tensor=\"\(escape(r.name))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h + 16))\">\n"
            for (i, c) in r.histogram.enumerated() where c > 0 {
                // square-root scale so the zero spike of a pruned tensor does not flatten the rest
                let bh = (h - pad) * (Double(c) / peak).squareRoot()
                s += "<rect class=\"bin\" x=\"\(num(pad + Double(i) * bw))\" y=\"\(num(h - bh))\" width=\"\(num(max(bw - 1, 0.5)))\" height=\"\(num(bh))\"><title>\(c)</title></rect>\n"
            }
            if let o = r.originalHistogram {
                var points = [String]()
                for (i, c) in o.enumerated() {
                    let y = h - (h - pad) * (Double(c) / peak).squareRoot()
                    points.append("\(num(pad + Double(i) * bw)),\(num(y))")
                    points.append("\(num(pad + Double(i + 1) * bw)),\(num(y))")
                }
                s += "<polyline class=\"original\" points=\"\(points.joined(separator: " "))\"/>\n"
            }
            s += "<line class=\"axis\" x1=\"\(pad)\" y1=\"\(h)\" x2=\"\(w - pad)\" y2=\"\(h)\"/>\n"
            s += "<text x=\"\(pad)\" y=\"\(h + 13)\">\(escape(String(format: "%.3g", r.low)))</text>"
            s += "<text x=\"\(w - pad)\" y=\"\(h + 13)\" text-anchor=\"end\">\(escape(String(format: "%.3g", r.high)))</text>\n"
            return s + "</svg></figure>\n"
        }

        static func page(model: String, loaded: LoadedModel, compare: String?, original: LoadedModel?, rows: [Row]) -> String {
            let m = loaded.model
            let params = m.parameterCount, bytes = m.storedBytes
            let zeros = rows.reduce(0.0) { $0 + $1.sparsity * Double($1.elements) }
            var h = """
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8">
                <title>aicompress report: \(escape((model as NSString).lastPathComponent))</title>
                <style>
                body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
                h1{font-size:20px}h2{font-size:16px;margin-top:28px}
                table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}
                td:first-child,th:first-child{text-align:left}
                svg text{font:11px system-ui,sans-serif;fill:#333}
                .bar,.legend-now{fill:#2b6cb0}.bar.capped{fill:#90b4dc}.bar-before,.legend-before{fill:#cbd5e0}
                .bin{fill:#2b6cb0}.original{fill:none;stroke:#e53e3e;stroke-width:1.2}.axis{stroke:#888}
                figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}figcaption span{font-weight:400;color:#666}
                .hists{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end}.hist{width:300px}
                .hist figcaption{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
                table.tensors td:nth-child(-n+4),table.tensors th:nth-child(-n+4){text-align:left}
                .summary td{text-align:left}
                </style></head><body>
                <h1>aicompress report: \(escape(model))</h1>
                <table class="summary">
                <tr><td>format</td><td>\(escape(loaded.format.rawValue))</td></tr>
                <tr><td>tensors</td><td>\(m.tensors.count)</td></tr>
                <tr><td>parameters</td><td>\(Format.count(params))</td></tr>
                <tr><td>tensor bytes</td><td>\(Format.bytes(bytes))</td></tr>
                <tr><td>sparsity</td><td>\(Format.percent(params > 0 ? zeros / Double(params) : 0))</td></tr>
                <tr><td>bits per weight</td><td>\(num(params > 0 ? Double(bytes * 8) / Double(params) : 0))</td></tr>

                """
            if let o = original, let c = compare {
                h += "<tr><td>compared with</td><td>\(escape(c)): \(Format.bytes(o.model.storedBytes)), \(Format.count(o.model.parameterCount)) parameters; "
                h += "now \(num(Double(o.model.storedBytes) / Double(max(bytes, 1))))x smaller</td></tr>\n"
            }
            let steps = m.metadata.filter { $0.key.hasPrefix("aicompress.step.") }.sorted { $0.key < $1.key }
            for s in steps { h += "<tr><td>\(escape(s.key))</td><td>\(escape(s.value))</td></tr>\n" }
            h += "</table>\n<h2>Per tensor</h2>\n"
            let hasOriginal = original != nil
            h += barChart(id: "size", title: "Stored size (bytes)", rows: rows.map { ($0.name, Double($0.bytes), $0.originalBytes.map(Double.init)) },
                          format: { compactBytes($0) }, legend: ("now", hasOriginal ? "original" : nil))
            h += barChart(id: "sparsity", title: "Sparsity (share of exact zeros)", rows: rows.map { ($0.name, $0.sparsity * 100, nil) },
                          maxValue: 100, format: { String(format: "%.1f%%", $0) }, legend: ("zeros", nil))
            h += barChart(id: "bits", title: "Bits per weight (stored)", rows: rows.map { ($0.name, $0.bitsPerWeight, nil) },
                          format: { String(format: "%.2f", $0) }, legend: ("bits/weight", nil))
            if hasOriginal {
                let compared = rows.filter { $0.relativeError != nil }
                h += barChart(id: "error", title: "Relative L2 error against the original (‖x − x̂‖ / ‖x‖)",
                              rows: compared.map { ($0.name, min($0.relativeError!, 10), nil) },
                              format: { String(format: "%.4g", $0) }, legend: ("relative error", nil))
                // axis capped at 60 dB: beyond that (or exact) the bar is full and drawn lighter
                let sqnrRows = compared.map { ($0.name, $0.sqnr!, nil as Double?) }
                let cappedRows = Set(sqnrRows.indices.filter { !sqnrRows[$0].1.isFinite || sqnrRows[$0].1 > 60 })
                h += barChart(id: "sqnr", title: "SQNR (dB; higher is closer to the original; axis capped at 60 dB)",
                              rows: sqnrRows.map { ($0.0, $0.1.isFinite ? max($0.1, 0) : .infinity, nil) }, maxValue: 60,
                              format: { $0.isFinite ? String(format: "%.1f dB", $0) : "exact" }, legend: ("SQNR", nil), capped: cappedRows)
            }
            let withHist = rows.filter { !$0.histogram.isEmpty }
            if !withHist.isEmpty {
                h += "<h2>Weight histograms\(hasOriginal ? " (red: the original)" : "") — bar height ∝ √count</h2>\n<div class=\"hists\">\n"
                for r in withHist { h += histogramSVG(r) }
                h += "</div>\n"
            }
            h += "<h2>Table</h2>\n<table class=\"tensors\"><tr><th>tensor</th><th>dtype</th><th>encoding</th><th>shape</th><th>params</th><th>bytes</th><th>sparsity</th><th>bits/w</th>"
            if hasOriginal { h += "<th>bytes before</th><th>rel err</th><th>SQNR dB</th>" }
            h += "</tr>\n"
            for r in rows {
                h += "<tr><td>\(escape(r.name))</td><td>\(escape(r.dtype))</td><td>\(escape(r.encoding))</td><td>\(escape(r.shape))</td>"
                h += "<td>\(Format.count(r.elements))</td><td>\(Format.count(r.bytes))</td><td>\(Format.percent(r.sparsity))</td><td>\(num(r.bitsPerWeight))</td>"
                if hasOriginal {
                    h += "<td>\(r.originalBytes.map(Format.count) ?? "—")</td><td>\(r.relativeError.map { String(format: "%.4g", $0) } ?? "—")</td>"
                    h += "<td>\(r.sqnr.map { $0.isFinite ? String(format: "%.1f", $0) : "exact" } ?? "—")</td>"
                }
                h += "</tr>\n"
            }
            h += "</table>\n<p>Made by aicompress \(AICompressVersion.string).</p>\n</body></html>\n"
            return h
        }
    }
}
