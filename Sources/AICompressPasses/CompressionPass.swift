#if canImport(Glibc)
import Glibc
#endif
import AICompressCore

/// A compression pass: a value holding its parameters that turns a model into a new model and
/// a report. Passes never read or write files.
///
/// Work is split so that a caller can stream: `prepare` sees the whole input once (for global
/// statistics) and returns a transform that is then applied tensor by tensor, in order, so a
/// writer can emit each result and drop it before the next.
public protocol CompressionPass: Sendable {
    /// Short name recorded in provenance, e.g. `quantize`.
    var name: String { get }
    /// Parameters as `key=value` pairs, in a fixed order, for provenance and reports.
    var parameters: [(String, String)] { get }
    /// Looks at the whole model (read only) and returns the per-tensor transform.
    func prepare(_ model: Model) throws -> any TensorTransform
}

/// The per-tensor half of a pass.
///
/// Concurrency contract: `PassDriver` calls `transform` for several tensors at once from
/// different threads (never twice for the same tensor), so a transform holds only immutable
/// state computed by `prepare` (plus its own locals); it must not mutate shared state.
/// `outputGraph` is called once, after every tensor.
public protocol TensorTransform: Sendable {
    /// The new form of `tensor` and what happened to it (nil when the tensor was left alone).
    func transform(_ tensor: Tensor) throws -> (Tensor, TensorReport?)
    /// The graph of the output model (passes that change shapes rewrite it).
    func outputGraph(_ graph: Graph?) throws -> Graph?
    /// Adds what the pass says about the whole output to its metadata (before provenance).
    func outputMetadata(_ metadata: inout [String: String])
    /// True when `transform` spreads one tensor over the cores itself: `PassDriver` then hands
    /// it one tensor at a time (libdispatch runs a `concurrentPerform` nested in another one
    /// serially, so transforming tensors in parallel would leave the inner work on one core).
    var parallelInside: Bool { get }
    /// The order the output's tensors are written in (a permutation of `tensors`, the model's
    /// order): a pass whose tensor depends on every other one (GPTQ on the output head, calibrated
    /// past the last block) puts it last, so the tensors made before it are not held for it.
    func outputOrder(_ tensors: [Tensor]) -> [Tensor]
}

extension TensorTransform {
    public func outputGraph(_ graph: Graph?) throws -> Graph? { graph }
    /// Most passes add nothing.
    public func outputMetadata(_ metadata: inout [String: String]) {}
    /// Most passes are parallel over tensors.
    public var parallelInside: Bool { false }
    /// Most passes write the model's order.
    public func outputOrder(_ tensors: [Tensor]) -> [Tensor] { tensors }
}

extension CompressionPass {
    /// `name key=value …`, the provenance step of this pass.
    public var stepDescription: String {
        ([name] + parameters.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
    }

    /// Applies the pass to a whole model in memory (through `PassDriver`, as the CLI does).
    public func apply(_ model: Model) throws -> (Model, PassReport) {
        let sink = ModelBuilder()
        let report = try PassDriver(pass: self).run(model, into: sink)
        return (sink.model, report)
    }
}

/// What a pass did to one tensor.
public struct TensorReport: Sendable, Equatable {
    public var name: String
    /// e.g. `int8 per-channel (axis 0)`, `fp16`, `magnitude 30%`.
    public var scheme: String
    public var bytesBefore: Int
    public var bytesAfter: Int
    public var elements: Int
    /// Sum of x² and of (x - x̂)² over the original values, and the largest |x - x̂|.
    public var signalEnergy: Double
    public var errorEnergy: Double
    public var maxAbsError: Double
    /// Elements exactly zero after the pass.
    public var zerosAfter: Int

    public init(name: String, scheme: String, bytesBefore: Int, bytesAfter: Int, elements: Int, signalEnergy: Double,
                errorEnergy: Double, maxAbsError: Double, zerosAfter: Int) {
        self.name = name
        self.scheme = scheme
        self.bytesBefore = bytesBefore
        self.bytesAfter = bytesAfter
        self.elements = elements
        self.signalEnergy = signalEnergy
        self.errorEnergy = errorEnergy
        self.maxAbsError = maxAbsError
        self.zerosAfter = zerosAfter
    }

    /// Stored bits per element after the pass (scales and zero points included).
    public var bitsPerWeight: Double { elements > 0 ? Double(bytesAfter * 8) / Double(elements) : 0 }
    /// Signal-to-quantization-noise ratio in dB (infinite when exact).
    public var sqnr: Double { errorEnergy > 0 ? 10 * log10(signalEnergy / errorEnergy) : .infinity }
    /// ‖x - x̂‖ / ‖x‖.
    public var relativeError: Double { signalEnergy > 0 ? (errorEnergy / signalEnergy).squareRoot() : (errorEnergy > 0 ? .infinity : 0) }
    public var sparsity: Double { elements > 0 ? Double(zerosAfter) / Double(elements) : 0 }
}

/// What a pass did to a model.
public struct PassReport: Sendable {
    public var pass: String
    /// Tensors the pass changed.
    public var tensors: [TensorReport] = []
    /// Bytes of all tensors, changed or not.
    public var totalBytesBefore = 0
    /// Bytes of all tensors as the output stores them.
    public var totalBytesAfter = 0
    public var untouched = 0
    /// Zeros of changed tensors that the output stores densely (its format, unlike the pass's
    /// sparse encoding, has no room for them).
    public var denselyStoredZeros = 0
    /// The bytes the output stores for those tensors.
    public var denselyStoredBytes = 0
    /// The bytes the sparse encoding (.ckpt) would store for those tensors.
    public var sparseEncodingBytes = 0

    public init(pass: String) { self.pass = pass }

    /// Counts one tensor. `stored` is what the output stores for `after` (default: its
    /// in-memory encoding); a tensor's report gets that as its `bytesAfter`.
    public mutating func add(before: Tensor, after: Tensor, _ report: TensorReport?, stored: Int? = nil) {
        let stored = stored ?? after.storedBytes
        totalBytesBefore += before.storedBytes
        totalBytesAfter += stored
        guard var report else {
            untouched += 1
            return
        }
        report.bytesAfter = stored
        if case .sparse = after.encoding, stored > after.storedBytes {
            denselyStoredZeros += report.zerosAfter
            denselyStoredBytes += stored
            sparseEncodingBytes += after.storedBytes
        }
        tensors.append(report)
    }

    public var compressionRatio: Double { totalBytesAfter > 0 ? Double(totalBytesBefore) / Double(totalBytesAfter) : 0 }
}

/// Several passes applied one after the other; itself a pass.
public struct Pipeline: CompressionPass {
    public let passes: [any CompressionPass]
    public init(_ passes: [any CompressionPass]) { self.passes = passes }
    public var name: String { "pipeline" }
    public var parameters: [(String, String)] { passes.enumerated().map { ("\($0.offset)", $0.element.stepDescription) } }

    /// Each pass's transform is prepared on the model the earlier passes produced, so a pipeline
    /// materialises intermediate models; use single passes to stream. The report of a tensor
    /// covers all passes: original against final values, the schemes joined with " + ".
    public func prepare(_ model: Model) throws -> any TensorTransform {
        var current = model
        var schemes: [String: [String]] = [:]
        for p in passes.dropLast() {
            let (next, report) = try p.apply(current)
            for r in report.tensors { schemes[r.name, default: []].append(r.scheme) }
            current = next
        }
        guard let last = passes.last else { return Identity() }
        return try Chained(before: current, last: last.prepare(current), original: model, earlier: schemes)
    }

    struct Identity: TensorTransform {
        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) { (t, nil) }
    }

    struct Chained: TensorTransform {
        let before: Model
        let last: any TensorTransform
        let original: Model
        let earlier: [String: [String]]
        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            let (out, lastReport) = try last.transform(before.tensor(named: t.name) ?? t)
            let schemes = (earlier[t.name] ?? []) + (lastReport.map { [$0.scheme] } ?? [])
            guard !schemes.isEmpty else { return (out, nil) }
            var r = lastReport ?? TensorReport(name: t.name, scheme: "", bytesBefore: t.storedBytes, bytesAfter: out.storedBytes,
                                                elements: t.elementCount, signalEnergy: 0, errorEnergy: 0, maxAbsError: 0, zerosAfter: 0)
            r.scheme = schemes.joined(separator: " + ")
            r.bytesBefore = t.storedBytes
            r.bytesAfter = out.storedBytes
            if let d = TensorDifference(original: t, changed: out) { r.figures = d }
            return (out, r)
        }
        func outputGraph(_ graph: Graph?) throws -> Graph? { try last.outputGraph(before.graph) }
        var parallelInside: Bool { last.parallelInside }
    }
}

