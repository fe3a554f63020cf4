/// Ops graph passes recognise by their traits but the executor does not run: channel pruning
/// walks through them (or stops at them) in graphs that are only transformed, never executed.
enum RecognizedOps {
    static let definitions: [OpDefinition] = [
        OpDefinition(recognized: "Celu", traits: [.unary, .channelPassThrough]),
        OpDefinition(recognized: "ThresholdedRelu", traits: [.unary, .channelPassThrough]),
        OpDefinition(recognized: "LpPool", traits: .channelPooling),
        OpDefinition(recognized: "ArgMin", traits: .channelDecision),
    ]
}
