import AICompressCore
import AICompressTraining

/// Runs calibration one layer at a time: the calibration inputs go through the model up to
/// layer i, that layer's input statistics are gathered, the layer is compressed, and the next
/// layer sees the outputs of the layers already compressed (so each layer corrects for the
/// errors before it, as GPTQ and SparseGPT are meant to run). Only one layer's statistics are
/// held at a time; activations are those of one batch.
public struct LayerwiseCalibration: Sendable {
    /// Calibration batches, each the model's feeds by input name.
    public let batches: [[String: NDArray]]
    /// Whether the methods need XᵀX (GPTQ, SparseGPT) or only Σx² (Wanda).
    public let needsGram: Bool
    /// Whether `run` also runs the unchanged model and gathers each layer's `InputShift` (its
    /// statistics' `reference`): SparseGPT's dense targets (`DenseTargets`).
    public let denseTargets: Bool

    /// Calibration over `batches`.
    public init(batches: [[String: NDArray]], needsGram: Bool, denseTargets: Bool = false) {
        self.batches = batches
        self.needsGram = needsGram
        self.denseTargets = denseTargets && needsGram
    }

    /// One compressed layer: the tensor to store and its values as the next layers see them
    /// (dequantized), in `outputs × inputs` order.
    public struct Compressed: Sendable {
        public var tensor: Tensor
        public var report: TensorReport
        public var effective: [Float]
        /// The layer's refitted bias (`CalibratedLayer.bias`), when the method changed it.
        public var bias: Tensor?

        /// A compressed layer.
        public init(tensor: Tensor, report: TensorReport, effective: [Float], bias: Tensor? = nil) {
            self.tensor = tensor
            self.report = report
            self.effective = effective
            self.bias = bias
        }
    }

    /// Compresses `layers` of `model` in order with `compress(layer, statistics, weights)`,
    /// where weights are `outputs × inputs`; returns the new tensors by name.
    /// - Throws: `PassError.unsupported` when the graph cannot run on the calibration data
    ///   (naming the op or value), or what `compress` throws.
    public func run(_ model: Model, layers: [CalibratedLayer],
                    compress: (CalibratedLayer, LayerStatistics, [Float]) throws -> Compressed) throws -> [String: Compressed] {
        try compressAll(model, layers: layers, compress: compress).done
    }

    /// `run`, and then the compressed model's relative output error against the unchanged
    /// model's on the calibration batches: Σ (y − ŷ)² / Σ y² over the graph's float outputs
    /// (Σ (y − ŷ)² when the outputs are all 0).
    /// - Throws: as `run`; `PassError.unsupported` when the graph has no float output.
    public func runMeasuringOutput(_ model: Model, layers: [CalibratedLayer],
                                   compress: (CalibratedLayer, LayerStatistics, [Float]) throws -> Compressed) throws
        -> (results: [String: Compressed], outputError: Double) {
        let (done, network) = try compressAll(model, layers: layers, compress: compress)
        let dense = try Self.network(model, layers)
        var error = 0.0, energy = 0.0, floats = 0
        for feeds in batches {
            let y: [String: NDArray], yHat: [String: NDArray]
            do { (y, yHat) = (try dense.predict(feeds), try network.predict(feeds)) } catch {
                throw PassError.unsupported(tensor: layers.first?.weight ?? "model", reason: "calibration could not run the model: \(error)")
            }
            for (name, a) in y.sorted(by: { $0.key < $1.key }) where a.isFloat {
                guard let b = yHat[name], b.count == a.count else { continue }
                floats += 1
                let (u, v) = (a.floats, b.floats)
                for i in 0..<u.count {
                    let d = Double(u[i]) - Double(v[i])
                    error += d * d
                    energy += Double(u[i]) * Double(u[i])
                }
            }
        }
        guard floats > 0 else {
            throw PassError.unsupported(tensor: layers.first?.weight ?? "model", reason: "measuring the output error needs a float graph output")
        }
        return (done, energy > 0 ? error / energy : error)
    }

    private func compressAll(_ model: Model, layers: [CalibratedLayer],
                             compress: (CalibratedLayer, LayerStatistics, [Float]) throws -> Compressed) throws
        -> (done: [String: Compressed], network: Network) {
        var network = try Self.network(model, layers)
        let dense = denseTargets ? network : nil
        let tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var done: [String: Compressed] = [:]
        for layer in layers {
            let stats = try statistics(of: layer, network, reference: dense)
            guard let t = tensors[layer.weight] else { continue }
            let dense = try t.encoding == .dense ? t : t.densified()
            let result = try compress(layer, stats, layer.rowsByOutput(dense.floatValues()))
            let stored = NDArray(shape: t.shape.dims, floats: layer.storedOrder(result.effective))
            network.replace(layer.weight, with: stored)
            if let b = result.bias { network.replace(b.name, with: NDArray(shape: b.shape.dims, floats: try b.floatValues())) }
            done[layer.weight] = result
        }
        return (done, network)
    }

    /// Visits `layers` of the *unchanged* `model` in order with `visit(layer, statistics,
    /// weights)` (weights `outputs × inputs`): every layer's statistics come from the original
    /// model, one layer's at a time. `CalibratedPrune`'s global scope plans with it.
    /// - Throws: as `run`, or what `visit` throws.
    public func visit(_ model: Model, layers: [CalibratedLayer],
                      _ visit: (CalibratedLayer, LayerStatistics, [Float]) throws -> Void) throws {
        let network = try Self.network(model, layers)
        let tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for layer in layers {
            let stats = try statistics(of: layer, network)
            guard let t = tensors[layer.weight] else { continue }
            let dense = try t.encoding == .dense ? t : t.densified()
            try visit(layer, stats, layer.rowsByOutput(dense.floatValues()))
        }
    }

    static func network(_ model: Model, _ layers: [CalibratedLayer]) throws -> Network {
        do { return try Network(model: model) } catch {
            throw PassError.unsupported(tensor: layers.first?.weight ?? "model", reason: "calibration runs the model, which failed: \(error)")
        }
    }

    /// `layer`'s input statistics over the batches, run through `network` as it is; with a
    /// `reference` network (the unchanged model) also the shift of its input from this one.
    func statistics(of layer: CalibratedLayer, _ network: Network, reference: Network? = nil) throws -> LayerStatistics {
        var stats = LayerStatistics(columns: layer.inputs, gram: needsGram)
        var shift = reference.map { _ in InputShift(columns: layer.inputs) }
        for feeds in batches {
            let x = try input(of: layer, network, feeds)
            stats.add(x.floats, rows: x.count / layer.inputs)
            if let reference {
                let d = try input(of: layer, reference, feeds)
                guard d.count == x.count else {
                    throw PassError.unsupported(tensor: layer.weight, reason: "the input '\(layer.input)' of node '\(layer.node)' changed shape when the layers before it were compressed")
                }
                shift?.add(dense: d.floats, compressed: x.floats, rows: x.count / layer.inputs)
            }
        }
        stats.reference = shift
        return stats
    }

    /// The float value `layer` multiplies, computed by `network` on `feeds`.
    private func input(of layer: CalibratedLayer, _ network: Network, _ feeds: [String: NDArray]) throws -> NDArray {
        let env: [String: NDArray]
        do { env = try network.forward(feeds) } catch {
            throw PassError.unsupported(tensor: layer.weight, reason: "calibration could not run the model: \(error)")
        }
        guard let x = env[layer.input], x.isFloat, x.count % layer.inputs == 0, x.shape.last == layer.inputs else {
            throw PassError.unsupported(tensor: layer.weight, reason: "the input '\(layer.input)' of node '\(layer.node)' is not a float [.., \(layer.inputs)] value on the calibration data")
        }
        return x
    }
}

extension Network {
    /// Replaces the value of parameter or constant `name`.
    mutating func replace(_ name: String, with value: NDArray) {
        if parameters[name] != nil { parameters[name] = value } else { constants[name] = value }
    }
}
