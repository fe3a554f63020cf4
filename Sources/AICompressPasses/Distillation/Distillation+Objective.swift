import AICompressTraining

extension Distillation {
    /// A feature target: the projected student value to compare, the teacher's values for every
    /// training row (row-major) and their width per row.
    struct FeatureTarget: Sendable {
        var projected: String
        var teacher: [Float]
        var width: Int
    }

    /// Where the student's scores are read: the value, its classes, and whether it holds
    /// probabilities (then the losses see log p, and their gradient is chained back to p).
    struct StudentReadout: Sendable {
        var value: String
        var classes: Int
        var probabilities: Bool
    }

    /// The combined loss for a student batch. `teacherLogits` holds `classes` values per row;
    /// `labels` (class indices) may be nil, in which case only the teacher is followed.
    func objective(_ readout: StudentReadout, teacherLogits: [Float], labels: [Int]?,
                   features: [FeatureTarget] = []) -> Objective {
        let alpha = labels == nil ? 1 : self.alpha
        let t = temperature
        let featureWeight = self.featureWeight
        let logitsValue = readout.value, classes = readout.classes, probabilities = readout.probabilities
        return { env, rows in
            guard let z = env[logitsValue] else { throw ExecutionError.missingValue(logitsValue) }
            let b = rows.count
            let student = probabilities ? NDArray(shape: [b, classes], floats: ProbabilityLogits.logits(z.asFloats))
                                        : z.reshaped([b, classes])
            var teacher = [Float]()
            teacher.reserveCapacity(b * classes)
            for r in rows { teacher.append(contentsOf: teacherLogits[(r * classes)..<((r + 1) * classes)]) }
            var loss = 0.0
            var grad = [Float](repeating: 0, count: z.count)
            if alpha > 0 {
                let (l, g) = Loss.distillationKL(student: student, teacher: teacher, temperature: t)
                loss += alpha * l
                for i in grad.indices { grad[i] += Float(alpha) * g.floats[i] }
            }
            if alpha < 1, let labels {
                let (l, g) = Loss.crossEntropy(logits: student, labels: rows.map { labels[$0] })
                loss += (1 - alpha) * l
                for i in grad.indices { grad[i] += Float(1 - alpha) * g.floats[i] }
            }
            if probabilities { grad = ProbabilityLogits.gradient(grad, probabilities: z.asFloats) }
            var seeds = [logitsValue: NDArray(shape: z.shape, floats: grad)]
            for f in features {
                guard let p = env[f.projected] else { throw ExecutionError.missingValue(f.projected) }
                var target = [Float]()
                target.reserveCapacity(b * f.width)
                for r in rows { target.append(contentsOf: f.teacher[(r * f.width)..<((r + 1) * f.width)]) }
                let (l, g) = Loss.mse(p, target: target)
                loss += featureWeight * l
                seeds[f.projected] = NDArray(shape: g.shape, floats: g.floats.map { $0 * Float(featureWeight) })
            }
            return (loss, seeds)
        }
    }
}
