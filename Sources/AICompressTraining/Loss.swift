import Foundation

/// Losses over a batch, each returning the mean loss and its gradient with respect to the
/// model's output (logits for the classification losses).
public enum Loss {
    /// Mean squared error: mean over all elements of (y − t)².
    public static func mse(_ y: NDArray, target: [Float]) -> (Double, NDArray) {
        precondition(y.count == target.count)
        var g = [Float](repeating: 0, count: y.count)
        var s = 0.0
        let scale = 2 / Float(max(y.count, 1))
        for i in 0..<y.count {
            let d = y.floats[i] - target[i]
            s += Double(d) * Double(d)
            g[i] = scale * d
        }
        return (s / Double(max(y.count, 1)), NDArray(shape: y.shape, floats: g))
    }

    /// Log-softmax of each row of `z / temperature`, in Double.
    static func logSoftmaxRows(_ z: [Float], rows: Int, classes: Int, temperature: Double) -> [Double] {
        var out = [Double](repeating: 0, count: z.count)
        for r in 0..<rows {
            let base = r * classes
            var mx = -Double.infinity
            for c in 0..<classes { mx = max(mx, Double(z[base + c]) / temperature) }
            var sum = 0.0
            for c in 0..<classes { sum += Foundation.exp(Double(z[base + c]) / temperature - mx) }
            let lse = mx + Foundation.log(sum)
            for c in 0..<classes { out[base + c] = Double(z[base + c]) / temperature - lse }
        }
        return out
    }

    /// Cross-entropy of softmax(logits) with integer class labels, averaged over the batch.
    /// `logits` is [batch, classes]; labels are class indices.
    public static func crossEntropy(logits: NDArray, labels: [Int]) -> (Double, NDArray) {
        let rows = labels.count, classes = logits.count / max(rows, 1)
        let lp = logSoftmaxRows(logits.floats, rows: rows, classes: classes, temperature: 1)
        var g = [Float](repeating: 0, count: logits.count)
        var s = 0.0
        for r in 0..<rows {
            let base = r * classes
            s -= lp[base + labels[r]]
            for c in 0..<classes {
                g[base + c] = Float((Foundation.exp(lp[base + c]) - (c == labels[r] ? 1 : 0)) / Double(rows))
            }
        }
        return (s / Double(max(rows, 1)), NDArray(shape: logits.shape, floats: g))
    }

    /// Knowledge-distillation loss T²·KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over
    /// the batch; gradient with respect to the student's logits: T·(p_s − p_t)/batch.
    public static func distillationKL(student: NDArray, teacher: [Float], temperature t: Double) -> (Double, NDArray) {
        let rows = student.shape.first ?? 1, classes = student.count / max(rows, 1)
        let ls = logSoftmaxRows(student.floats, rows: rows, classes: classes, temperature: t)
        let lt = logSoftmaxRows(teacher, rows: rows, classes: classes, temperature: t)
        var g = [Float](repeating: 0, count: student.count)
        var s = 0.0
        for i in 0..<student.count {
            let pt = Foundation.exp(lt[i]), ps = Foundation.exp(ls[i])
            if pt > 0 { s += pt * (lt[i] - ls[i]) }
            g[i] = Float(t * (ps - pt) / Double(rows))
        }
        return (t * t * s / Double(max(rows, 1)), NDArray(shape: student.shape, floats: g))
    }
}
