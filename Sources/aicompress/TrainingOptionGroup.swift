import AICompressTraining
import ArgumentParser
import Foundation

extension LRSchedule.Kind: ExpressibleByArgument {}

/// Optimizer, schedule and loop settings shared by `train` and `distill`.
struct TrainingOptionGroup: ParsableArguments {
    /// `--optimizer`: the library's optimizers plus `gd`, full-batch SGD. Not `CaseIterable`, so
    /// that the help keeps listing the choices in its own words.
    enum Optimizer: String, ExpressibleByArgument {
        case sgd, gd, adam, adamw

        var kind: OptimizerKind {
            switch self {
            case .sgd, .gd: return .sgd
            case .adam: return .adam
            case .adamw: return .adamw
            }
        }
    }

    @Option(help: "Optimizer: sgd (momentum, Nesterov), adam or adamw; 'gd' is full-batch gradient descent (sgd over the whole set each step).")
    var optimizer: Optimizer = .adam

    @Option(help: "Learning rate (default 0.001 for Adam/AdamW, 0.01 for SGD/GD).")
    var lr: Float?

    @Option(help: "SGD momentum.")
    var momentum: Float = 0

    @Flag(help: "Nesterov momentum (SGD).")
    var nesterov = false

    @Option(help: "Adam β1.")
    var beta1: Float = 0.9

    @Option(help: "Adam β2.")
    var beta2: Float = 0.999

    @Option(help: "Adam ε.")
    var eps: Float = 1e-8

    @Option(help: "L2 regularization (sgd, adam) or decoupled weight decay (adamw).")
    var weightDecay: Float = 0

    @Option(name: .customLong("epochs"),
            help: "Passes over the training data: at most this many while early stopping (default 500); given without --patience, exactly this many.")
    var epochsOption: Int?

    @Option(help: "Rows per step.")
    var batchSize = 32

    @Option(help: "Learning-rate schedule: constant, step or cosine.")
    var schedule: LRSchedule.Kind = .constant

    @Option(help: "step schedule: epochs between decays.")
    var stepEpochs = 10

    @Option(help: "step schedule: factor per decay.")
    var gamma: Float = 0.1

    @Option(help: "Linear learning-rate warm-up over this many epochs.")
    var warmup = 0

    @Option(help: "Clip the global gradient norm to this (0 = off).")
    var clipNorm: Float = 0

    @Option(name: .customLong("patience"),
            help: "Early stopping: stop after this many epochs without a lower validation loss and keep the best epoch's weights (default 10, unless --epochs is given alone; 0 = off).")
    var patienceOption: Int?

    @Option(help: "Validation data (same columns as --data).")
    var val: String?

    @Option(help: "Hold out this fraction of the training rows for validation (default 0.1 while early stopping without --val, with at least 20 rows).")
    var valSplit: Double?

    @Option(help: "Seed for shuffling, the validation split and initial weights.")
    var seed: UInt64 = 0

    @Flag(help: "Let pruned (exactly zero) weights change; by default they stay zero so sparsity is kept.")
    var freeSparsity = false

    @Flag(name: .shortAndLong, help: "Nothing on stderr but errors.")
    var quiet = false

    @Flag(help: "One line per epoch on stderr even when it is not a terminal (for logs).")
    var verbose = false

    /// The epoch count: --epochs, else the cap of a run that trains until converged.
    var epochs: Int { epochsOption ?? TrainingOptions.convergenceEpochCap }

    /// The patience: --patience, else early stopping unless --epochs alone asked for a fixed
    /// number of epochs (what a user who types --epochs 30 expects: 30 epochs).
    var patience: Int { patienceOption ?? (epochsOption == nil ? TrainingOptions.convergencePatience : 0) }

    /// Per-epoch lines: on a terminal, or with --verbose; never with --quiet.
    var showsEpochs: Bool {
        !quiet && (verbose || FileHandleOutput.stderrIsInteractive)
    }

    func validate() throws {
        if let r = lr, !(r > 0 && r.isFinite) { throw ValidationError("--lr must be a positive number") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard momentum >= 0 && momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        guard beta1 >= 0 && beta1 < 1, beta2 >= 0 && beta2 < 1 else { throw ValidationError("--beta1 and --beta2 must be in [0, 1)") }
        guard eps > 0, weightDecay >= 0, clipNorm >= 0, patience >= 0, warmup >= 0, stepEpochs >= 1, gamma > 0 else {
            throw ValidationError("--eps and --gamma must be positive; --weight-decay, --clip-norm, --patience and --warmup not negative")
        }
        if let v = valSplit, !(v > 0 && v < 1) { throw ValidationError("--val-split must be between 0 and 1") }
        if val != nil && valSplit != nil { throw ValidationError("give --val or --val-split, not both") }
        if nesterov && momentum == 0 { throw ValidationError("--nesterov needs --momentum") }
        if verbose && quiet { throw ValidationError("--verbose and --quiet contradict each other") }
    }

    var options: TrainingOptions {
        var o = TrainingOptions()
        o.epochs = epochs
        o.batchSize = optimizer == .gd ? 0 : batchSize
        o.seed = seed
        let kind = optimizer.kind
        var c = OptimizerConfig(kind: kind, learningRate: lr ?? (kind == .sgd ? 0.01 : 0.001))
        c.momentum = momentum
        c.nesterov = nesterov
        c.beta1 = beta1
        c.beta2 = beta2
        c.epsilon = eps
        c.weightDecay = weightDecay
        o.optimizer = c
        var s = LRSchedule(kind: schedule)
        s.stepEpochs = stepEpochs
        s.gamma = gamma
        s.warmupEpochs = warmup
        o.schedule = s
        o.clipNorm = clipNorm
        o.patience = patience
        o.keepSparsity = !freeSparsity
        return o
    }

    /// Where validation rows come from: --val (read here), --val-split, or (`automatic`) 10%
    /// of 20 or more rows when early stopping needs them.
    func validationData(data: DataOptions, expectedFeatures: Int?) throws -> ValidationData {
        if let v = val { return .rows(try data.load(v, expectedFeatures: expectedFeatures).0, name: v) }
        if let fraction = valSplit { return .holdOut(fraction: fraction) }
        return patience > 0 ? .automatic : .none
    }

    /// Why training stopped, for the summary line: "stopped: validation loss did not improve
    /// for 10 epochs; kept epoch 57", or "stopped: reached --epochs 500".
    func stopSummary(_ result: TrainingResult) -> String {
        let watched = result.validated ? "validation" : "training"
        if result.stoppedEarly {
            return "stopped: \(watched) loss did not improve for \(patience) epochs; kept epoch \(result.bestEpoch)"
        }
        var s = "stopped: reached --epochs \(epochs)"
        if patience > 0 { s += "; kept epoch \(result.bestEpoch) (lowest \(watched) loss)" }
        return s
    }

    /// Runs `body`, turning a hold-out that leaves no training rows into the usage error it is.
    func mappingSplitErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch ValidationSplitError.noTrainingRowsLeft(rows: _) {
            throw ValidationError("--val-split leaves no training rows")
        }
    }

    /// One progress line per epoch on stderr.
    func report(_ log: EpochLog, total: Int) {
        guard showsEpochs else { return }
        var s = "epoch \(log.epoch)/\(total)  loss \(String(format: "%.4f", log.trainLoss))"
        if let v = log.validationLoss { s += "  val_loss \(String(format: "%.4f", v))" }
        if let a = log.validationAccuracy { s += "  val_acc \(Format.percent(a))" }
        s += "  lr \(log.learningRate)  \(String(format: "%.2f", log.seconds))s"
        FileHandleOutput.stderr(s + "\n")
    }
}
