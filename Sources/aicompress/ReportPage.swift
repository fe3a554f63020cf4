import AICompressCore
import AICompressFormats
import Foundation

/// The HTML page of `aicompress report`: one self-contained file (inline SVG and CSS, no
/// scripts), every text from the model escaped.
enum ReportPage {
    /// One tensor of the report: the tensor, its namesake in the original, and what is charted.
    struct Row {
        let tensor: Tensor
        let original: Tensor?
        /// Share of exact zeros.
        let sparsity: Double
        /// Stored bits per element.
        let bitsPerWeight: Double
        /// Against the original, when there is one of the same shape.
        let difference: TensorDifference?
        /// nil when the tensor gets no histogram.
        let histogram: Histogram?

        /// The row for `tensor`, with a histogram of `histogramBins` bins when given, over the
        /// range of both the tensor and the original.
        init(_ tensor: Tensor, original: Tensor?, histogramBins: Int?) {
            let s = tensor.statistics()
            let n = tensor.elementCount
            self.tensor = tensor
            self.original = original
            sparsity = n > 0 ? Double(s.zeros) / Double(n) : 0
            bitsPerWeight = n > 0 ? Double(tensor.storedBytes * 8) / Double(n) : 0
            difference = original.flatMap { TensorDifference(original: $0, changed: tensor) }
            histogram = histogramBins.map { bins in
                var low = s.min ?? 0, high = s.max ?? 0
                if let os = original?.statistics() { low = min(low, os.min ?? low); high = max(high, os.max ?? high) }
                if high <= low { high = low + 1 }
                return Histogram(low: low, high: high, counts: tensor.histogram(bins: bins, low: low, high: high),
                                 original: original?.histogram(bins: bins, low: low, high: high))
            }
        }
    }

    /// Counts of a tensor's values (and the original's, over the same bins) from `low` to `high`.
    struct Histogram {
        let low: Double, high: Double
        let counts: [Int]
        let original: [Int]?
    }

    /// One bar of a bar chart: a tensor's value now and, when compared, in the original.
    struct Bar {
        let label: String
        let value: Double
        var before: Double? = nil
    }

    /// `s` safe inside HTML text and attribute values.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Two decimals: SVG coordinates and sizes.
    static func num(_ v: Double) -> String { String(format: "%.2f", v) }

    /// At most `limit` characters. A dotted name keeps its last number (the layer) and what
    /// follows it (the kind), dropping components before and, if needed, after the number:
    /// `model.encoder.layer.11.attention.self.query.weight` → `…11.…self.query.weight`. A name
    /// without a numbered component is cut in the middle.
    static func shortName(_ s: String, limit: Int = 34) -> String {
        guard s.count > limit else { return s }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if let n = parts.lastIndex(where: { !$0.isEmpty && $0.allSatisfy(\.isNumber) }), n > 0 {
            let tail = parts[(n + 1)...]
            // Longest form first: head, number and the whole tail; then fewer tail components.
            var candidates = [parts[0] + ".…" + parts[n...].joined(separator: "."), "…" + parts[n...].joined(separator: ".")]
            let marker = "…" + parts[n] + ".…"
            for keep in stride(from: tail.count - 1, through: 2, by: -1) {
                candidates.append(marker + tail.suffix(keep).joined(separator: "."))
            }
            if let fit = candidates.first(where: { $0.count <= limit }) { return fit }
            // The kind alone is too long: as much of its end as fits after the number.
            if marker.count < limit - 8 {
                return marker + String(tail.joined(separator: ".").suffix(limit - marker.count))
            }
        }
        let head = min(14, limit / 2)
        return String(s.prefix(head)) + "…" + String(s.suffix(limit - 1 - head))
    }

    /// The last component of a path (the whole string when it has none), for the page title.
    static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// A horizontal bar chart: one row per tensor, up to two series (now, and the original).
    /// `capped` rows (value beyond the axis, or exact) are drawn in a lighter colour.
    static func barChart(id: String, title: String, bars: [Bar], maxValue: Double? = nil,
                         format: (Double) -> String, legend: (String, String?), capped: Set<Int> = []) -> String {
        let labelWidth = 240.0, barWidth = 520.0, rowHeight = 18.0, top = 28.0
        let height = top + Double(bars.count) * rowHeight + 12
        let peak = maxValue ?? max(bars.map { max($0.value, $0.before ?? 0) }.max() ?? 1, 1e-12)
        var s = "<figure><figcaption>\(escape(title))</figcaption>\n"
        s += "<svg class=\"chart\" data-chart=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + barWidth + 170))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">\n"
        s += "<rect class=\"legend-now\" x=\"\(labelWidth)\" y=\"6\" width=\"12\" height=\"12\"/><text x=\"\(labelWidth + 16)\" y=\"16\">\(escape(legend.0))</text>\n"
        if let l = legend.1 {
            s += "<rect class=\"legend-before\" x=\"\(labelWidth + 160)\" y=\"6\" width=\"12\" height=\"12\"/><text x=\"\(labelWidth + 176)\" y=\"16\">\(escape(l))</text>\n"
        }
        for (i, bar) in bars.enumerated() {
            let y = top + Double(i) * rowHeight
            s += "<text class=\"label\" x=\"\(labelWidth - 6)\" y=\"\(y + 12)\" text-anchor=\"end\"><title>\(escape(bar.label))</title>\(escape(shortName(bar.label)))</text>\n"
            var end = 0.0
            if let b = bar.before {
                let w = max(barWidth * min(b, peak) / peak, b > 0 ? 1 : 0)
                end = w
                s += "<rect class=\"bar-before\" x=\"\(labelWidth)\" y=\"\(y + 1)\" width=\"\(num(w))\" height=\"\(rowHeight - 3)\"><title>\(escape(bar.label)): \(format(b))</title></rect>\n"
            }
            let w = max(barWidth * min(bar.value, peak) / peak, bar.value > 0 ? 1 : 0)
            end = max(end, w)
            let inset = bar.before == nil ? 0.0 : 4.0
            let cls = capped.contains(i) ? "bar capped" : "bar"
            s += "<rect class=\"\(cls)\" x=\"\(labelWidth)\" y=\"\(y + 1 + inset)\" width=\"\(num(w))\" height=\"\(rowHeight - 3 - 2 * inset)\"><title>\(escape(bar.label)): \(format(bar.value))</title></rect>\n"
            let shown = bar.before.map { "\(format(bar.value)) of \(format($0))" } ?? format(bar.value)
            s += "<text class=\"value\" x=\"\(num(labelWidth + end + 4))\" y=\"\(y + 12)\">\(escape(shown))</text>\n"
        }
        return s + "</svg></figure>\n"
    }

    /// A tensor's histogram as SVG, the original's outline over it.
    static func histogramSVG(_ r: Row, _ hist: Histogram) -> String {
        let name = r.tensor.name
        let w = 300.0, h = 110.0, pad = 16.0
        let peak = Double(max(hist.counts.max() ?? 1, hist.original?.max() ?? 1, 1))
        let bw = (w - 2 * pad) / Double(max(hist.counts.count, 1))
        var s = "<figure class=\"hist\"><figcaption title=\"\(escape(name))\">\(escape(shortName(name))) <span>\(escape(r.tensor.shape.description)) \(escape("\(r.tensor.encoding)"))</span></figcaption>\n"
        s += "<svg class=\"histogram\" data-tensor=\"\(escape(name))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h + 16))\">\n"
        for (i, c) in hist.counts.enumerated() where c > 0 {
            // square-root scale so the zero spike of a pruned tensor does not flatten the rest
            let bh = (h - pad) * (Double(c) / peak).squareRoot()
            s += "<rect class=\"bin\" x=\"\(num(pad + Double(i) * bw))\" y=\"\(num(h - bh))\" width=\"\(num(max(bw - 1, 0.5)))\" height=\"\(num(bh))\"><title>\(c)</title></rect>\n"
        }
        if let o = hist.original {
            var points = [String]()
            for (i, c) in o.enumerated() {
                let y = h - (h - pad) * (Double(c) / peak).squareRoot()
                points.append("\(num(pad + Double(i) * bw)),\(num(y))")
                points.append("\(num(pad + Double(i + 1) * bw)),\(num(y))")
            }
            s += "<polyline class=\"original\" points=\"\(points.joined(separator: " "))\"/>\n"
        }
        s += "<line class=\"axis\" x1=\"\(pad)\" y1=\"\(h)\" x2=\"\(w - pad)\" y2=\"\(h)\"/>\n"
        s += "<text x=\"\(pad)\" y=\"\(h + 13)\">\(escape(String(format: "%.3g", hist.low)))</text>"
        s += "<text x=\"\(w - pad)\" y=\"\(h + 13)\" text-anchor=\"end\">\(escape(String(format: "%.3g", hist.high)))</text>\n"
        return s + "</svg></figure>\n"
    }

    /// The whole page for `model` (and the original it was compared with, if any).
    static func html(model: String, loaded: LoadedModel, compare: String?, original: LoadedModel?, rows: [Row]) -> String {
        let m = loaded.model
        let params = m.parameterCount, bytes = m.storedBytes
        let zeros = rows.reduce(0.0) { $0 + $1.sparsity * Double($1.tensor.elementCount) }
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>aicompress report: \(escape(fileName(model)))</title>
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
        h += barChart(id: "size", title: "Stored size (bytes)",
                      bars: rows.map { Bar(label: $0.tensor.name, value: Double($0.tensor.storedBytes), before: $0.original.map { Double($0.storedBytes) }) },
                      format: { Format.shortBytes(Int($0)) }, legend: ("now", hasOriginal ? "original" : nil))
        h += barChart(id: "sparsity", title: "Sparsity (share of exact zeros)", bars: rows.map { Bar(label: $0.tensor.name, value: $0.sparsity * 100) },
                      maxValue: 100, format: { String(format: "%.1f%%", $0) }, legend: ("zeros", nil))
        h += barChart(id: "bits", title: "Bits per weight (stored)", bars: rows.map { Bar(label: $0.tensor.name, value: $0.bitsPerWeight) },
                      format: { String(format: "%.2f", $0) }, legend: ("bits/weight", nil))
        if hasOriginal {
            let compared = rows.compactMap { r in r.difference.map { (name: r.tensor.name, difference: $0) } }
            h += barChart(id: "error", title: "Relative L2 error against the original (‖x − x̂‖ / ‖x‖)",
                          bars: compared.map { Bar(label: $0.name, value: min($0.difference.relativeError, 10)) },
                          format: { String(format: "%.4g", $0) }, legend: ("relative error", nil))
            // axis capped at 60 dB: beyond that (or exact) the bar is full and drawn lighter
            let sqnr = compared.map(\.difference.sqnr)
            let cappedRows = Set(sqnr.indices.filter { !sqnr[$0].isFinite || sqnr[$0] > 60 })
            h += barChart(id: "sqnr", title: "SQNR (dB; higher is closer to the original; axis capped at 60 dB)",
                          bars: zip(compared, sqnr).map { Bar(label: $0.name, value: $1.isFinite ? max($1, 0) : .infinity) }, maxValue: 60,
                          format: { $0.isFinite ? String(format: "%.1f dB", $0) : "exact" }, legend: ("SQNR", nil), capped: cappedRows)
        }
        let withHist = rows.compactMap { r in r.histogram.map { (r, $0) } }
        if !withHist.isEmpty {
            h += "<h2>Weight histograms\(hasOriginal ? " (red: the original)" : "") — bar height ∝ √count</h2>\n<div class=\"hists\">\n"
            for (r, hist) in withHist { h += histogramSVG(r, hist) }
            h += "</div>\n"
        }
        h += "<h2>Table</h2>\n<table class=\"tensors\"><tr><th>tensor</th><th>dtype</th><th>encoding</th><th>shape</th><th>params</th><th>bytes</th><th>sparsity</th><th>bits/w</th>"
        if hasOriginal { h += "<th>bytes before</th><th>rel err</th><th>SQNR dB</th>" }
        h += "</tr>\n"
        for r in rows {
            let t = r.tensor
            h += "<tr><td>\(escape(t.name))</td><td>\(escape("\(t.dtype)"))</td><td>\(escape("\(t.encoding)"))</td><td>\(escape(t.shape.description))</td>"
            h += "<td>\(Format.count(t.elementCount))</td><td>\(Format.count(t.storedBytes))</td><td>\(Format.percent(r.sparsity))</td><td>\(num(r.bitsPerWeight))</td>"
            if hasOriginal {
                h += "<td>\(r.original.map { Format.count($0.storedBytes) } ?? "—")</td><td>\(r.difference.map { String(format: "%.4g", $0.relativeError) } ?? "—")</td>"
                h += "<td>\(r.difference.map { $0.sqnr.isFinite ? String(format: "%.1f", $0.sqnr) : "exact" } ?? "—")</td>"
            }
            h += "</tr>\n"
        }
        h += "</table>\n<p>Made by aicompress \(AICompressVersion.string).</p>\n</body></html>\n"
        return h
    }
}
