import Foundation

/// The optimizers of the seed document, with PyTorch's update rules.
public enum OptimizerKind: String, Sendable, CaseIterable {
    /// Plain gradient descent steps (full-batch GD when the batch is the whole data set).
    case sgd
    /// Adam with bias correction; weight decay is L2 added to the gradient.
    case adam
    /// Adam with decoupled weight decay (Loshchilov & Hutter).
    case adamw
}

public struct OptimizerConfig: Sendable, Equatable {
    public var kind: OptimizerKind
    public var learningRate: Float
    public var momentum: Float = 0
    public var nesterov = false
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// L2 penalty (SGD, Adam) or decoupled decay (AdamW).
    public var weightDecay: Float = 0

    public init(kind: OptimizerKind, learningRate: Float) {
        self.kind = kind
        self.learningRate = learningRate
    }

    public var summary: String {
        switch kind {
        case .sgd:
            return "sgd lr=\(learningRate) momentum=\(momentum)\(nesterov ? " nesterov" : "") weight_decay=\(weightDecay)"
        case .adam, .adamw:
            return "\(kind.rawValue) lr=\(learningRate) beta1=\(beta1) beta2=\(beta2) eps=\(epsilon) weight_decay=\(weightDecay)"
        }
    }
}

/// Optimizer state: momentum buffers or Adam moments per parameter, and the step count.
public struct Optimizer: Sendable {
    public let config: OptimizerConfig
    public private(set) var steps = 0
    var first: [String: [Float]] = [:]
    var second: [String: [Float]] = [:]

    public init(_ config: OptimizerConfig) { self.config = config }

    /// One update of `params` from `grads` with learning rate `lr`, in place: parameters and
    /// state are updated through their buffers, without copies.
    public mutating func step(_ params: inout [String: NDArray], grads: [String: NDArray], lr: Float) {
        steps += 1
        let c = config
        let bc1 = Float(1 - Foundation.pow(Double(c.beta1), Double(steps)))
        let bc2 = Float(1 - Foundation.pow(Double(c.beta2), Double(steps)))
        let wd = c.weightDecay, mom = c.momentum, b1 = c.beta1, b2 = c.beta2, eps = c.epsilon
        for name in params.keys.sorted() {
            guard let g = grads[name], params[name] != nil else { continue }
            let n = g.floats.count
            switch c.kind {
            case .sgd where mom == 0:
                g.floats.withUnsafeBufferPointer { gv in
                    params[name]!.floats.withUnsafeMutableBufferPointer { p in
                        for i in 0..<n { p[i] -= lr * (gv[i] + wd * p[i]) }
                    }
                }
            case .sgd:
                let fresh = first[name] == nil
                if fresh { first[name] = [Float](repeating: 0, count: n) }
                let nesterov = c.nesterov
                g.floats.withUnsafeBufferPointer { gv in
                    params[name]!.floats.withUnsafeMutableBufferPointer { p in
                        first[name]!.withUnsafeMutableBufferPointer { buf in
                            for i in 0..<n {
                                let d = gv[i] + wd * p[i]
                                // the first step starts the buffer at the gradient (PyTorch)
                                let b = fresh ? d : mom * buf[i] + d
                                buf[i] = b
                                p[i] -= lr * (nesterov ? d + mom * b : b)
                            }
                        }
                    }
                }
            case .adam, .adamw:
                if first[name] == nil {
                    first[name] = [Float](repeating: 0, count: n)
                    second[name] = [Float](repeating: 0, count: n)
                }
                let decoupled = c.kind == .adamw
                let l2: Float = decoupled ? 0 : wd, decay: Float = decoupled ? 1 - lr * wd : 1
                g.floats.withUnsafeBufferPointer { gv in
                    params[name]!.floats.withUnsafeMutableBufferPointer { p in
                        first[name]!.withUnsafeMutableBufferPointer { m in
                            second[name]!.withUnsafeMutableBufferPointer { v in
                                for i in 0..<n {
                                    let d = gv[i] + l2 * p[i]
                                    p[i] *= decay
                                    m[i] = b1 * m[i] + (1 - b1) * d
                                    v[i] = b2 * v[i] + (1 - b2) * d * d
                                    p[i] -= lr * (m[i] / bc1) / ((v[i] / bc2).squareRoot() + eps)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A learning-rate schedule over epochs, with optional linear warm-up.
public struct LRSchedule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case constant
        /// Multiply by `gamma` every `stepEpochs` epochs.
        case step
        /// Cosine from the base rate down to `minRate` over the run.
        case cosine
    }
    public var kind: Kind = .constant
    public var stepEpochs = 10
    public var gamma: Float = 0.1
    public var minRate: Float = 0
    public var warmupEpochs = 0

    public init(kind: Kind = .constant) { self.kind = kind }

    /// The rate for `epoch` (0-based) of `total`.
    public func rate(base: Float, epoch: Int, total: Int) -> Float {
        var r: Float
        switch kind {
        case .constant: r = base
        case .step: r = base * Float(Foundation.pow(Double(gamma), Double(epoch / max(stepEpochs, 1))))
        case .cosine:
            let t = Double(epoch) / Double(max(total - 1, 1))
            r = minRate + (base - minRate) * Float(0.5 * (1 + Foundation.cos(Double.pi * t)))
        }
        if warmupEpochs > 0 && epoch < warmupEpochs { r *= Float(epoch + 1) / Float(warmupEpochs) }
        return r
    }
}

/// Scales all gradients down so their global L2 norm is at most `maxNorm`; returns the norm before.
@discardableResult
public func clipGradients(_ grads: inout [String: NDArray], maxNorm: Float) -> Float {
    var sq = 0.0
    for k in grads.keys.sorted() { for v in grads[k]!.floats { sq += Double(v) * Double(v) } }
    let norm = Float(sq.squareRoot())
    if maxNorm > 0 && norm > maxNorm {
        let s = maxNorm / norm
        for k in grads.keys { grads[k]!.floats = grads[k]!.floats.map { $0 * s } }
    }
    return norm
}
