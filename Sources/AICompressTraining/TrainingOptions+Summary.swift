extension TrainingOptions {
    /// The settings as recorded in a provenance step (`optimizer=adam lr=0.001 … seed=0`):
    /// only what differs from a plain run is spelled out; full-batch SGD is called `gd`.
    public var summary: String {
        let fullBatch = batchSize <= 0
        let o = optimizer
        var parts = ["optimizer=\(o.kind == .sgd && fullBatch ? "gd" : o.kind.rawValue)", "lr=\(o.learningRate)"]
        if o.momentum != 0 { parts.append("momentum=\(o.momentum)\(o.nesterov ? " nesterov" : "")") }
        if o.kind != .sgd { parts.append("beta1=\(o.beta1) beta2=\(o.beta2) eps=\(o.epsilon)") }
        if o.weightDecay != 0 { parts.append("weight_decay=\(o.weightDecay)") }
        parts.append("epochs=\(epochs)")
        parts.append("batch=\(fullBatch ? "all" : String(batchSize))")
        if schedule.kind != .constant { parts.append("schedule=\(schedule.kind.rawValue)") }
        if schedule.warmupEpochs > 0 { parts.append("warmup=\(schedule.warmupEpochs)") }
        if clipNorm > 0 { parts.append("clip_norm=\(clipNorm)") }
        if patience > 0 { parts.append("patience=\(patience)") }
        parts.append("seed=\(seed)")
        if !keepSparsity { parts.append("free_sparsity") }
        return parts.joined(separator: " ")
    }
}
