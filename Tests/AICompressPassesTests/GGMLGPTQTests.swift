import AICompressCore
import Foundation
import XCTest

@testable import AICompressPasses

/// GPTQ into ggml block types against a closed-form OBS reference written here (Double, the
/// explicit inverse Hessian, grids read off Core's dequantizer), against round-to-nearest on a
/// layer with correlated inputs, and its bytes against Core's decoder.
final class GGMLGPTQTests: XCTestCase {
    /// A layer: weights `rows × n` and inputs `tokens × n` whose columns are correlated
    /// (x_j = z_j + 0.8 z_{j-1} + 0.5 z_{j-2}) and of uneven energy.
    struct Layer {
        let rows: Int, n: Int, tokens: Int
        var weights: [Float] = [], inputs: [Float] = []
        init(rows: Int, n: Int, tokens: Int = 384, seed: UInt64) {
            self.rows = rows
            self.n = n
            self.tokens = tokens
            var g = SplitMix64(seed: seed)
            func gauss() -> Double { (-2 * log(max(g.unit(), 1e-300))).squareRoot() * cos(2 * .pi * g.unit()) }
            weights = (0..<(rows * n)).map { _ in Float(gauss() * 0.05) }
            let energy = (0..<n).map { _ in 0.2 + 2 * g.unit() }
            for _ in 0..<tokens {
                let z = (0..<(n + 2)).map { _ in gauss() }
                for j in 0..<n {
                    let mixed: Double = z[j + 2] + 0.8 * z[j + 1] + 0.5 * z[j]
                    inputs.append(Float(mixed * energy[j]))
                }
            }
        }
        /// XᵀX in Double.
        var gram: [Double] {
            var h = [Double](repeating: 0, count: n * n)
            for t in 0..<tokens {
                let x = inputs[(t * n)..<((t + 1) * n)].map(Double.init)
                for i in 0..<n { for j in 0..<n { h[i * n + j] += x[i] * x[j] } }
            }
            return h
        }
        /// Σx²/tokens per column.
        var importance: [Float] {
            (0..<n).map { j in Float((0..<tokens).reduce(0.0) { $0 + Double(inputs[$1 * n + j]) * Double(inputs[$1 * n + j]) } / Double(tokens)) }
        }
        /// ‖W Xᵀ − Ŵ Xᵀ‖² in Double.
        func outputError(_ q: [Float]) -> Double {
            var e = 0.0
            for t in 0..<tokens {
                for r in 0..<rows {
                    var s = 0.0
                    for j in 0..<n { s += (Double(weights[r * n + j]) - Double(q[r * n + j])) * Double(inputs[t * n + j]) }
                    e += s * s
                }
            }
            return e
        }
    }

    /// The reference: OBS done literally (GPTQ eqs. 2–3) in Double. A block's header comes from
    /// `GGMLType.quantize` on the current weights; its grid is read off Core's dequantizer by
    /// filling the level fields with one level everywhere (`fill`: 4-bit types, Q2_K, Q3_K); each
    /// weight goes to the nearest grid value; the error moves the unfixed weights by the
    /// explicit inverse Hessian, which then loses the fixed column by elimination.
    ///
    /// With `sweepLoss` (Q4_0 only here), the block's scale is then chosen among the header's
    /// and `−max/(8 + 0.1·i)`, i in −10…10, by running the explicit OBS steps through the block
    /// for each (the inverse Hessian's block eliminated column by column) and keeping the least
    /// Σ (w − q)²/[H_F⁻¹]_cc.
    static func reference(_ type: GGMLType, _ layer: Layer, importance: [Float]?, damp: Double = 0.01,
                          sweepLoss: Bool = false) throws -> [Float] {
        let n = layer.n, rows = layer.rows, b = type.blockSize
        var h = layer.gram
        var w = layer.weights.map(Double.init)
        for i in 0..<n where h[i * n + i] == 0 { h[i * n + i] = 1; for r in 0..<rows { w[r * n + i] = 0 } }
        let lambda = damp * (0..<n).reduce(0.0) { $0 + h[$1 * n + $1] } / Double(n)
        for i in 0..<n { h[i * n + i] += lambda }
        var inv = invert(h, n)
        var grid = [[Float]](repeating: [], count: rows * b)  // per row and value of the block: value of each level
        for c in 0..<n {
            if c % b == 0 {
                for r in 0..<rows {
                    let values = (c..<(c + b)).map { Float(w[r * n + $0]) }
                    var header = importance.map { try? type.quantize(values, rowLength: b, importance: Array($0[c..<(c + b)])) }
                        ?? (try? type.quantize(values))
                    if sweepLoss {
                        let d = sweepScale(values, own: Float(Float16(bitPattern: UInt16(header![0]) | UInt16(header![1]) << 8)),
                                           block: blockSteps(inv, n, start: c, b: b))
                        let bits = Float16(d).bitPattern
                        (header![0], header![1]) = (UInt8(bits & 0xFF), UInt8(bits >> 8))
                    }
                    for k in 0..<b { grid[r * b + k] = [] }
                    for q in 0..<levelCount(type) {
                        fill(&header!, type, level: q)
                        let decoded = try type.dequantize(header!)
                        for k in 0..<b { grid[r * b + k].append(decoded[k]) }
                    }
                }
            }
            let d = inv[c * n + c]
            for r in 0..<rows {
                let v = w[r * n + c]
                let q = Double(grid[r * b + c % b].min { abs(Double($0) - v) < abs(Double($1) - v) }!)
                let delta = (v - q) / d
                for j in (c + 1)..<max(n, c + 1) { w[r * n + j] -= delta * inv[c * n + j] }
                w[r * n + c] = q
            }
            let pivot = Array(inv[(c * n)..<(c * n + n)])
            for i in (c + 1)..<max(n, c + 1) {
                let f = inv[i * n + c] / d
                for j in (c + 1)..<n { inv[i * n + j] -= f * pivot[j] }
            }
        }
        return w.map(Float.init)
    }

    /// How many levels a value of `type` has (the types `fill` knows).
    static func levelCount(_ type: GGMLType) -> Int {
        switch type {
        case .q2_K: 4
        case .q3_K: 8
        default: 16
        }
    }

    /// Sets every value of the encoded block to level `q`: the nibbles of `qs` (4-bit types),
    /// every 2-bit plane of `qs` (Q2_K), and for Q3_K also every `hmask` bit (the third bit).
    static func fill(_ block: inout [UInt8], _ type: GGMLType, level q: Int) {
        func field(_ name: String) -> Range<Int> {
            let at = type.layout.offset(name)
            return at..<(at + type.layout.fields.first { $0.name == name }!.bytes)
        }
        switch type {
        case .q2_K, .q3_K:
            for i in field("qs") { block[i] = UInt8(q & 3) * 0x55 }
            if type == .q3_K { for i in field("hmask") { block[i] = q & 4 != 0 ? 0xFF : 0 } }
        default:
            for i in field("qs") { block[i] = UInt8(q | q << 4) }
        }
    }

    /// The OBS steps through columns `start..<start + b` from the inverse Hessian `inv` of the
    /// unfixed columns: for each, [H_F⁻¹]_cc and its row over the block, then c eliminated.
    static func blockSteps(_ inv: [Double], _ n: Int, start: Int, b: Int) -> [(pivot: Double, row: [Double])] {
        var m = (0..<b).map { i in (0..<b).map { j in inv[(start + i) * n + start + j] } }
        var steps: [(Double, [Double])] = []
        for i in 0..<b {
            steps.append((m[i][i], m[i]))
            for r in (i + 1)..<max(b, i + 1) {
                let f = m[r][i] / m[i][i]
                for j in (i + 1)..<b { m[r][j] -= f * m[i][j] }
            }
        }
        return steps
    }

    /// Q4_0's scale of least sweep loss through one block (see `reference`).
    static func sweepScale(_ x: [Float], own: Float, block steps: [(pivot: Double, row: [Double])]) -> Float {
        func loss(_ d: Float) -> Double {
            var w = x.map(Double.init), total = 0.0
            for i in 0..<x.count {
                let q = Double((0..<16).map { Float($0 - 8) * d }.min { abs(Double($0) - w[i]) < abs(Double($1) - w[i]) }!)
                let delta = (w[i] - q) / steps[i].pivot
                total += delta * delta * steps[i].pivot
                for j in (i + 1)..<max(x.count, i + 1) { w[j] -= delta * steps[i].row[j] }
            }
            return total
        }
        let peak = x.reduce(Float(0)) { abs($1) > abs($0) ? $1 : $0 }
        guard peak != 0 else { return own }
        var best = own, bestLoss = loss(own)
        for i in -10...10 {
            let d = Float(Float16(-peak / (8 + 0.1 * Float(i))))
            if d == own { continue }
            let l = loss(d)
            if l < bestLoss { (best, bestLoss) = (d, l) }
        }
        return best
    }

    static func invert(_ a: [Double], _ n: Int) -> [Double] {
        var m = a, inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        for p in 0..<n {
            let pivot = m[p * n + p]
            for j in 0..<n { m[p * n + j] /= pivot; inv[p * n + j] /= pivot }
            for i in 0..<n where i != p {
                let f = m[i * n + p]
                if f == 0 { continue }
                for j in 0..<n { m[i * n + j] -= f * m[p * n + j]; inv[i * n + j] -= f * inv[p * n + j] }
            }
        }
        return inv
    }

    func checkAgainstReference(_ type: GGMLType, n: Int, weighted: Bool, search: GGMLGPTQ.ScaleSearch = .type) throws {
        let layer = Layer(rows: 8, n: n, seed: 7)
        let imp = weighted ? layer.importance : nil
        let fast = try GGMLGPTQ(type: type, scaleSearch: search).quantize(layer.weights, rows: layer.rows, columns: n, gram: layer.gram,
                                                                         importance: imp, layer: "t")
        let slow = try Self.reference(type, layer, importance: imp, sweepLoss: search == .sweepLoss)
        // Bytes decode to the weights reported, exactly.
        XCTAssertEqual(try type.dequantize(fast.bytes), fast.weights)
        XCTAssertEqual(fast.bytes.count, layer.rows * n / type.blockSize * type.bytesPerBlock)
        // Float sweep vs Double closed form: a rounding decision at a near-tie may differ.
        let same = zip(fast.weights, slow).filter { abs($0 - $1) <= 1e-6 * max(abs($1), 1e-3) }.count
        XCTAssertGreaterThanOrEqual(Double(same) / Double(fast.weights.count), 0.98, "\(type): \(same)/\(fast.weights.count) weights agree")
        let ef = layer.outputError(fast.weights), es = layer.outputError(slow)
        XCTAssertEqual(ef / es, 1, accuracy: 0.02, "\(type) output error fast \(ef) reference \(es)")
    }

    func testQ4_0AgainstClosedFormOBS() throws { try checkAgainstReference(.q4_0, n: 128, weighted: false) }
    func testQ4_0WeightedAgainstClosedFormOBS() throws { try checkAgainstReference(.q4_0, n: 128, weighted: true) }
    func testQ4_0SweepLossScaleAgainstClosedFormOBS() throws { try checkAgainstReference(.q4_0, n: 128, weighted: false, search: .sweepLoss) }
    func testQ4_0WeightedSweepLossScaleAgainstClosedFormOBS() throws {
        try checkAgainstReference(.q4_0, n: 128, weighted: true, search: .sweepLoss)
    }

    /// The sweep-loss scale search (Q4_0, Q5_0) against the type's own search on the same layer:
    /// lower output error, bytes that decode to the weights, the same bytes twice; for a type it
    /// does not cover (Q4_K), the same bytes as the type's search.
    func testSweepLossScaleBelowTypeScale() throws {
        var lines: [String] = []
        for (type, n) in [(GGMLType.q4_0, 128), (.q5_0, 128), (.q4_K, 256)] {
            let layer = Layer(rows: 8, n: n, tokens: 256, seed: 5), gram = layer.gram
            for imp in type == .q4_K ? [nil] : [nil, layer.importance] {
                let own = try GGMLGPTQ(type: type).quantize(layer.weights, rows: 8, columns: n, gram: gram, importance: imp, layer: "t")
                let g = try GGMLGPTQ(type: type, scaleSearch: .sweepLoss)
                let r = try g.quantize(layer.weights, rows: 8, columns: n, gram: gram, importance: imp, layer: "t")
                XCTAssertEqual(try type.dequantize(r.bytes), r.weights, "\(type)")
                XCTAssertEqual(try g.quantize(layer.weights, rows: 8, columns: n, gram: gram, importance: imp, layer: "t").bytes, r.bytes)
                let ratio = layer.outputError(r.weights) / layer.outputError(own.weights)
                lines.append("\(type) weighted \(imp != nil): sweep-loss / type scale output error \(String(format: "%.3f", ratio))")
                if type == .q4_K { XCTAssertEqual(r.bytes, own.bytes) } else { XCTAssertLessThan(ratio, 0.97, "\(type)") }
            }
        }
        print(lines.joined(separator: "\n"))
    }

    func testQ4_1AgainstClosedFormOBS() throws { try checkAgainstReference(.q4_1, n: 96, weighted: true) }
    func testQ2_KAgainstClosedFormOBS() throws { try checkAgainstReference(.q2_K, n: 256, weighted: false) }
    func testQ2_KWeightedAgainstClosedFormOBS() throws { try checkAgainstReference(.q2_K, n: 256, weighted: true) }
    func testQ3_KAgainstClosedFormOBS() throws { try checkAgainstReference(.q3_K, n: 256, weighted: false) }
    func testQ3_KWeightedAgainstClosedFormOBS() throws { try checkAgainstReference(.q3_K, n: 256, weighted: true) }
    func testIQ4_NLWeightedAgainstClosedFormOBS() throws { try checkAgainstReference(.iq4_NL, n: 96, weighted: true) }
    func testIQ4_XSAgainstClosedFormOBS() throws { try checkAgainstReference(.iq4_XS, n: 256, weighted: false) }
    func testIQ4_XSWeightedAgainstClosedFormOBS() throws { try checkAgainstReference(.iq4_XS, n: 256, weighted: true) }
    func testQ4_KAgainstClosedFormOBS() throws { try checkAgainstReference(.q4_K, n: 256, weighted: false) }
    func testQ4_KWeightedAgainstClosedFormOBS() throws { try checkAgainstReference(.q4_K, n: 256, weighted: true) }

    /// ‖WX − ŴX‖ of GPTQ against round-to-nearest (llama-quantize's encoding, with the same
    /// importance) for every supported type, with and without act-order; bytes decode to the
    /// weights; two runs give the same bytes.
    func testBelowRoundToNearestOnCorrelatedInputs() throws {
        try belowRoundToNearest(Layer(rows: 8, n: 256, seed: 3), GGMLBlockGrid.supported)
        // Two super-blocks: the K-types cross one, and act-order moves whole super-blocks.
        try belowRoundToNearest(Layer(rows: 4, n: 512, tokens: 256, seed: 4), [.q4_K])
    }

    func belowRoundToNearest(_ layer: Layer, _ types: [GGMLType]) throws {
        let gram = layer.gram, imp = layer.importance
        var lines: [String] = []
        for type in types {
            let rtn = try type.dequantize(try type.quantize(layer.weights, rowLength: layer.n, importance: imp))
            let base = layer.outputError(rtn)
            for actOrder in [false, true] {
                let g = try GGMLGPTQ(type: type, actOrder: actOrder)
                let r = try g.quantize(layer.weights, rows: layer.rows, columns: layer.n, gram: gram, importance: imp, layer: "t")
                XCTAssertEqual(try type.dequantize(r.bytes), r.weights, "\(type)")
                if !actOrder {
                    let again = try g.quantize(layer.weights, rows: layer.rows, columns: layer.n, gram: gram, importance: imp, layer: "t")
                    XCTAssertEqual(again.bytes, r.bytes, "\(type) deterministic")
                }
                let ratio = layer.outputError(r.weights) / base
                lines.append("\(type) act-order \(actOrder): GPTQ/RTN output error \(String(format: "%.3f", ratio))")
                XCTAssertLessThan(ratio, 0.75, "\(type) act-order \(actOrder)")
            }
        }
        print(lines.joined(separator: "\n"))
    }

    /// Every quantized type has a grid; types without blocks and rows that are not whole blocks
    /// are refused.
    func testRefusals() throws {
        XCTAssertEqual(Set(GGMLBlockGrid.supported), Set(GGMLType.allCases.filter(\.isQuantized)))
        for type in [GGMLType.f16, .bf16, .f32] {
            XCTAssertThrowsError(try GGMLGPTQ(type: type)) { XCTAssertTrue("\($0)".contains("not built"), "\($0)") }
        }
        XCTAssertThrowsError(try GGMLGPTQ(type: .q4_K).quantize([Float](repeating: 0, count: 128), rows: 1, columns: 128,
                                                                gram: [Double](repeating: 0, count: 128 * 128), importance: nil, layer: "blk.0.attn_q.weight")) {
            XCTAssertTrue("\($0)".contains("blk.0.attn_q.weight"), "\($0)")
        }
    }
}
