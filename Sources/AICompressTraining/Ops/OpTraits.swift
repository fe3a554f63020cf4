/// What graph code may assume about an op without running it. Channel pruning's op sets are the
/// names carrying its four traits (`channelPassThrough`, `channelPooling`, `prunableLayer`,
/// `channelDecision`), so a new op it may walk through is declared once, on its record.
public struct OpTraits: OptionSet, Sendable, Hashable {
    /// The trait bits.
    public let rawValue: Int
    /// The traits of `rawValue`'s bits.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Applies one scalar function to each element (binary ops: after broadcasting).
    public static let elementwise = OpTraits(rawValue: 1 << 0)
    /// Output 0 has the shape of input 0.
    public static let shapePreserving = OpTraits(rawValue: 1 << 1)
    /// Channel pruning walks through it: channels stay apart and it holds no per-channel
    /// parameter, so a channel removed before it is removed after it. Set only where pruning
    /// accepts the op today (Gelu, Exp, Log, Sqrt and Clip would qualify, but marking them
    /// changes what `prune --pattern channels` accepts).
    public static let channelPassThrough = OpTraits(rawValue: 1 << 2)
    /// Channel pruning walks through it after a Conv: it pools each channel's positions alone.
    public static let channelPooling = OpTraits(rawValue: 1 << 3)
    /// A layer channel pruning shrinks: input 1 is a weight with an output-channel axis.
    public static let prunableLayer = OpTraits(rawValue: 1 << 4)
    /// Its output chooses among the channels (classes), so the layer feeding it keeps them all.
    public static let channelDecision = OpTraits(rawValue: 1 << 5)

    /// An elementwise op of one input (`elementwise` and `shapePreserving`).
    public static let unary: OpTraits = [.elementwise, .shapePreserving]
}
