/// One op of the table: its name and domain, its traits, and, when the executor runs it, its
/// forward kernel and its gradient, declared together as micrograd keeps `_backward` next to
/// the forward. A record without a forward is an op graph passes recognise (by its traits) but
/// the executor does not run.
public struct OpDefinition: Sendable {
    /// The outputs of a node from its inputs (nil for an omitted optional input).
    typealias Forward = @Sendable (_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> [NDArray]
    /// The gradients of a node's inputs (nil where none is needed or none flows) from its inputs,
    /// its output 0 `y`, the gradient `g` of that output, and which inputs need a gradient.
    typealias Backward = @Sendable (_ ctx: OpContext, _ inputs: [NDArray?], _ y: NDArray, _ g: NDArray,
                                    _ need: [Bool]) throws(ExecutionError) -> [NDArray?]

    /// The input slots gradients flow through.
    public enum DifferentiableInputs: Sendable, Equatable, ExpressibleByArrayLiteral {
        /// These slots only.
        case slots(Set<Int>)
        /// Every input (Concat).
        case all

        /// A list of slots.
        public init(arrayLiteral elements: Int...) { self = .slots(Set(elements)) }

        /// Whether gradients flow through input `slot`.
        public func contains(_ slot: Int) -> Bool {
            switch self {
            case .slots(let s): return s.contains(slot)
            case .all: return true
            }
        }
    }

    /// How gradients pass through an op: the inputs they reach and the kernel computing them.
    /// One value, so an op cannot declare differentiable inputs without a backward.
    struct Gradient: Sendable {
        let inputs: DifferentiableInputs
        let backward: Backward

        init(inputs: DifferentiableInputs, _ backward: @escaping Backward) {
            self.inputs = inputs
            self.backward = backward
        }
    }

    /// Domain as graphs name it; "" is the default ONNX domain.
    public let domain: String
    /// Operator type, as in a node's `opType`.
    public let name: String
    /// What graph code may assume about the op.
    public let traits: OpTraits
    let forward: Forward?
    let gradient: Gradient?

    /// An op the executor runs; `gradient` nil means no gradient flows through it.
    init(_ name: String, domain: String = "", traits: OpTraits = [], forward: @escaping Forward, gradient: Gradient? = nil) {
        self.domain = domain
        self.name = name
        self.traits = traits
        self.forward = forward
        self.gradient = gradient
    }

    /// An op graph passes recognise by its traits and the executor does not run.
    init(recognized name: String, traits: OpTraits) {
        domain = ""
        self.name = name
        self.traits = traits
        forward = nil
        gradient = nil
    }

    /// The table's one key form: the name, prefixed by the domain outside the default one
    /// (`Gemm`, `ai.onnx.ml.LinearClassifier`).
    public var key: String { OpDefinition.key(domain: domain, name: name) }
    /// Whether the executor runs the op.
    public var isExecutable: Bool { forward != nil }
    /// The inputs gradients flow through, or nil when the op is not differentiable.
    public var differentiableInputs: DifferentiableInputs? { gradient?.inputs }

    /// Whether gradients flow through input `slot`.
    func differentiates(_ slot: Int) -> Bool { gradient?.inputs.contains(slot) ?? false }

    /// The key of op `name` in `domain` ("" and "ai.onnx" are both the default domain).
    public static func key(domain: String, name: String) -> String {
        domain.isEmpty || domain == "ai.onnx" ? name : "\(domain).\(name)"
    }
}
