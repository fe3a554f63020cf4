import AICompressCore
import AICompressTraining
import Foundation

/// AWQ's per-input-channel scale search for one group of projections that read one input
/// (arXiv 2306.00978; llm-awq's `auto_scale`): per column j, s_j = m_j^α with m_j = mean |x_j|,
/// clamped at 1e-4 and divided by sqrt(max s · min s); α is tried on the grid k / `grid`,
/// k = 0 … grid−1 (llm-awq's 20 points, α = 0 being plain round-to-nearest), and the α whose
/// quantized weights give the smallest calibrated output error wins (ties: the smaller α).
///
/// Each member W (rows × n, outputs × inputs) is stored as M = diag(1/r)·W·diag(s) — r its
/// output-row divisors when its own rows are folded into a later projection (v → attn_output,
/// up → ffn_down), else 1 — and M is encoded by the member's ggml type's own quantizer
/// (`GGMLType.quantize`, importance-weighted by E[x_j²]/s_j² — the statistics of M's input
/// x/s — when `useImportance`). What the model then computes, in W's basis, is
/// E = diag(r)·Q(M)·diag(1/s), and the loss is the output error over the calibration rows,
/// computed exactly from the Gram matrix G = XᵀX: ‖(W − E)Xᵀ‖² = Σ_rows Δ G Δᵀ with Δ = W − E,
/// summed over the members.
public struct AWQScaleSearch: Sendable {
    /// One projection of the group.
    public struct Member: Sendable {
        /// Its tensor name (for messages).
        public let name: String
        /// Its weights, `rows × columns` row-major, in the original basis.
        public let weights: [Float]
        /// Output rows.
        public let rows: Int
        /// The ggml block type it is encoded into.
        public let type: GGMLType
        /// Per output row, the divisor r of a fold of this projection's outputs into a later
        /// one; nil: none.
        public let rowScales: [Float]?

        /// A member.
        public init(name: String, weights: [Float], rows: Int, type: GGMLType, rowScales: [Float]? = nil) {
            self.name = name
            self.weights = weights
            self.rows = rows
            self.type = type
            self.rowScales = rowScales
        }
    }

    /// One member at the chosen α.
    public struct Encoded: Sendable {
        /// The type's encoding of M (rows × row bytes).
        public let bytes: [UInt8]
        /// E = diag(r)·Q(M)·diag(1/s): what the model computes, in W's basis.
        public let effective: [Float]
    }

    /// What the search chose.
    public struct Result: Sendable {
        /// The index of the chosen grid point.
        public let best: Int
        /// The chosen α.
        public let alpha: Double
        /// The chosen per-column scales s.
        public let scales: [Float]
        /// The loss of every grid point, in grid order.
        public let losses: [Double]
        /// Each member encoded with `scales`, in member order.
        public let encoded: [Encoded]
    }

    /// Grid points α = k / grid, k = 0 ..< grid.
    public let grid: Int
    /// Weigh each type's scale search by the importance E[x²]/s² (llama-quantize --imatrix's way).
    public let useImportance: Bool

    /// A search on `grid` points (at least 1).
    public init(grid: Int = 20, useImportance: Bool = true) {
        self.grid = max(grid, 1)
        self.useImportance = useImportance
    }

    /// The α of each grid point.
    public var alphas: [Double] { (0..<grid).map { Double($0) / Double(grid) } }

    /// llm-awq's scales for activation magnitudes `m` at `alpha`: m^α clamped at 1e-4, divided
    /// by sqrt(max · min); exactly 1 everywhere at α = 0.
    public static func scales(meanAbsolute m: [Double], alpha: Double) -> [Float] {
        AWQMath.scales(meanAbsolute: m, alpha: alpha)
    }

    /// M = diag(1/r)·W·diag(s) (`rows × s.count`).
    public static func scaled(_ w: [Float], rows: Int, rowScales r: [Float]?, columnScales s: [Float]) -> [Float] {
        let n = s.count
        var m = w
        for i in 0..<rows {
            let d = r.map { 1 / $0[i] } ?? 1
            for j in 0..<n { m[i * n + j] = w[i * n + j] * s[j] * d }
        }
        return m
    }

    /// Searches the scales of `members` (all reading `columns`-wide inputs with Gram matrix
    /// `gram`, mean |x| `meanAbsolute` and mean x² `meanSquares` per column).
    /// - Throws: `LLMError.tensorShape` when a member's size disagrees, `.tensorEncoding` when
    ///   its rows are not whole blocks of its type.
    public func search(_ members: [Member], columns n: Int, gram: [Double], meanAbsolute: [Double],
                       meanSquares: [Float]) throws(LLMError) -> Result {
        guard gram.count == n * n, meanAbsolute.count == n, meanSquares.count == n else {
            throw .tensorShape(tensor: members.first?.name ?? "?", expected: [n, n], actual: [gram.count])
        }
        for m in members {
            guard m.weights.count == m.rows * n, m.rowScales.map({ $0.count == m.rows }) ?? true else {
                throw .tensorShape(tensor: m.name, expected: [m.rows, n], actual: [m.weights.count])
            }
            guard m.type.isQuantized, m.type.hasQuantizer, n % m.type.blockSize == 0 else {
                throw .tensorEncoding(tensor: m.name, reason: "AWQ encodes into ggml block types with a quantizer; rows of \(n) into \(m.type) are not")
            }
        }
        let g = gram.map { Float($0) }
        let alphas = self.alphas
        let losses: [Double?] = Parallel.map(alphas.count) { k in
            let s = Self.scales(meanAbsolute: meanAbsolute, alpha: alphas[k])
            var total = 0.0
            for m in members {
                guard let e = try? encode(m, columns: n, scales: s, meanSquares: meanSquares) else { return nil }
                total += Self.loss(m.weights, e.effective, rows: m.rows, columns: n, gram: g)
            }
            return total
        }
        var best = 0, values = [Double]()
        for (k, l) in losses.enumerated() {
            guard let l else { throw .tensorEncoding(tensor: members.first?.name ?? "?", reason: "the \(members.first?.type.name ?? "") quantizer failed") }
            values.append(l)
            if l < values[best] { best = k }
        }
        let s = Self.scales(meanAbsolute: meanAbsolute, alpha: alphas[best])
        var encoded = [Encoded]()
        for m in members { encoded.append(try encode(m, columns: n, scales: s, meanSquares: meanSquares)) }
        return Result(best: best, alpha: alphas[best], scales: s, losses: values, encoded: encoded)
    }

    /// `member` encoded with column scales `s`.
    /// - Throws: `LLMError.tensorEncoding` when the type's quantizer refuses the values.
    public func encode(_ member: Member, columns n: Int, scales s: [Float], meanSquares: [Float]) throws(LLMError) -> Encoded {
        let m = Self.scaled(member.weights, rows: member.rows, rowScales: member.rowScales, columnScales: s)
        let bytes: [UInt8], q: [Float]
        do {
            if useImportance && member.type.usesImportance {
                let importance = (0..<n).map { meanSquares[$0] / (s[$0] * s[$0]) }
                bytes = try member.type.quantize(m, rowLength: n, importance: importance)
            } else {
                bytes = try member.type.quantize(m)
            }
            q = try member.type.dequantize(bytes)
        } catch { throw .tensorEncoding(tensor: member.name, reason: "\(error)") }
        var e = q
        for i in 0..<member.rows {
            let r = member.rowScales?[i] ?? 1
            for j in 0..<n { e[i * n + j] = q[i * n + j] * r / s[j] }
        }
        return Encoded(bytes: bytes, effective: e)
    }

    /// Σ_rows Δ G Δᵀ with Δ = w − e (`rows × n`), G `n × n` (float products by BLAS, summed in
    /// Double).
    public static func loss(_ w: [Float], _ e: [Float], rows: Int, columns n: Int, gram g: [Float]) -> Double {
        AWQMath.gramLoss(w, e, rows: rows, columns: n, gram: g)
    }
}
