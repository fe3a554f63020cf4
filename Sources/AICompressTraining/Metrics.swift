/// Classification metrics from true and predicted class labels.
public struct ClassificationMetrics: Sendable, Equatable {
    /// Class labels, sorted; rows and columns of the confusion matrix follow this order.
    public var classes: [Double]
    /// confusion[i][j]: samples of true class i predicted as class j.
    public var confusion: [[Int]]
    public var samples: Int
    public var correct: Int

    public init(truth: [Double], predicted: [Double]) {
        precondition(truth.count == predicted.count)
        classes = Array(Set(truth).union(predicted)).sorted()
        var index: [Double: Int] = [:]
        for (i, c) in classes.enumerated() { index[c] = i }
        confusion = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
        correct = 0
        for (t, p) in zip(truth, predicted) {
            confusion[index[t]!][index[p]!] += 1
            if t == p { correct += 1 }
        }
        samples = truth.count
    }

    public var accuracy: Double { samples == 0 ? 0 : Double(correct) / Double(samples) }

    /// Precision of class i: TP / predicted as i (0 when nothing was predicted as i).
    public func precision(_ i: Int) -> Double {
        let predicted = confusion.reduce(0) { $0 + $1[i] }
        return predicted == 0 ? 0 : Double(confusion[i][i]) / Double(predicted)
    }
    /// Recall of class i: TP / truly i (0 when no sample is i).
    public func recall(_ i: Int) -> Double {
        let actual = confusion[i].reduce(0, +)
        return actual == 0 ? 0 : Double(confusion[i][i]) / Double(actual)
    }
    public func f1(_ i: Int) -> Double {
        let p = precision(i), r = recall(i)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }
    public func support(_ i: Int) -> Int { confusion[i].reduce(0, +) }

    /// Unweighted means over the classes that occur in the truth.
    var presentClasses: [Int] { classes.indices.filter { support($0) > 0 } }
    public var macroPrecision: Double { mean(presentClasses.map(precision)) }
    public var macroRecall: Double { mean(presentClasses.map(recall)) }
    public var macroF1: Double { mean(presentClasses.map(f1)) }

    func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
}

/// Regression metrics: MSE, MAE and R².
public struct RegressionMetrics: Sendable, Equatable {
    public var samples: Int
    public var mse: Double
    public var mae: Double
    public var r2: Double

    public init(truth: [Double], predicted: [Double]) {
        precondition(truth.count == predicted.count)
        samples = truth.count
        let n = Double(max(samples, 1))
        var se = 0.0, ae = 0.0
        for (t, p) in zip(truth, predicted) { se += (t - p) * (t - p); ae += abs(t - p) }
        mse = se / n
        mae = ae / n
        let m = truth.reduce(0, +) / n
        let tot = truth.reduce(0.0) { $0 + ($1 - m) * ($1 - m) }
        r2 = tot == 0 ? (se == 0 ? 1 : 0) : 1 - se / tot
    }
}
