/// Sees the input of every matrix product of a transformer block as the decoder runs
/// (`Decoder.observer`): the rows of activations that multiply one weight matrix. The importance
/// matrix (`ImportanceCollector`) is one; calibrated methods can be others.
public protocol ActivationObserver: AnyObject, Sendable {
    /// `rows` activation rows of `columns` values (row-major at `input`) about to multiply the
    /// weight `site` names. Called in the decoder's order, from one thread at a time.
    func observe(_ site: ActivationSite, input: UnsafePointer<Float>, rows: Int, columns: Int)
}

/// A block's weight matrix, named as in a GGUF file (`blk.N.attn_q.weight`, …).
public struct ActivationSite: Sendable, Hashable {
    /// The block index.
    public let layer: Int
    /// The matrix within the block.
    public let kind: Kind

    /// The projections of a LLaMA block, by their GGUF names.
    public enum Kind: String, Sendable, CaseIterable {
        case query = "attn_q", key = "attn_k", value = "attn_v", output = "attn_output"
        case gate = "ffn_gate", up = "ffn_up", down = "ffn_down"
    }

    /// True for phi3's fused projections: q/k/v name `attn_qkv`, gate/up name `ffn_up` (which
    /// holds both), the one weight their shared input multiplies.
    public let fused: Bool

    /// A site.
    public init(layer: Int, kind: Kind, fused: Bool = false) {
        self.layer = layer
        self.kind = kind
        self.fused = fused
    }

    /// The weight's GGUF tensor name.
    public var tensorName: String {
        guard fused else { return "blk.\(layer).\(kind.rawValue).weight" }
        switch kind {
        case .query, .key, .value: return "blk.\(layer).attn_qkv.weight"
        case .gate, .up: return "blk.\(layer).ffn_up.weight"
        case .output, .down: return "blk.\(layer).\(kind.rawValue).weight"
        }
    }

    /// Whether `name` is a block projection's GGUF name (`blk.N.attn_q.weight`, …, and phi3's
    /// fused `blk.N.attn_qkv.weight`): the weights the calibrated methods compress.
    public static func isProjection(_ name: String) -> Bool {
        name.hasPrefix("blk.") && (name.hasSuffix(".attn_qkv.weight") || Kind.allCases.contains { name.hasSuffix(".\($0.rawValue).weight") })
    }

    /// Every name a projection of block `layer` may have (the seven separate ones and phi3's
    /// attn_qkv; ffn_up is both).
    public static func projectionNames(layer: Int) -> [String] {
        Kind.allCases.map { ActivationSite(layer: layer, kind: $0).tensorName } + ["blk.\(layer).attn_qkv.weight"]
    }
}
