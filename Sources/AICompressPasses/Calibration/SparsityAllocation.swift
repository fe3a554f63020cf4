/// How `--scope global` shares one budget of kept weights among the layers of a calibrated
/// prune (Wanda, SparseGPT): each layer's *error curve* — its estimated relative output error
/// ‖(W−Ŵ)X‖² / ‖WX‖² when it keeps k of its weights, measured at `points` + 1 evenly spaced
/// k — is replaced by its lower convex hull, and the budget goes to the hull segments that
/// lower the summed error most per weight kept, steepest first (ties: the earlier layer, then
/// the earlier segment), the last one in part. On convex piecewise-linear curves this greedy
/// choice is the exact minimum of Σ error over every split of the budget (a plain brute force
/// checks it in the tests). Deterministic: integers and one sort with a total order.
public enum SparsityAllocation {
    /// Evaluation points per curve, besides k = 0.
    public static let points = 32

    /// One layer's measured error: `errors[i]` at `kept[i]` weights, `kept` strictly increasing
    /// from 0 to the layer's weight count.
    public struct Curve: Sendable, Equatable {
        /// Weights kept at each point.
        public var kept: [Int]
        /// The relative output error at each point (1 when nothing is kept, 0 when all is).
        public var errors: [Double]

        /// A curve (the points as measured).
        public init(kept: [Int], errors: [Double]) {
            self.kept = kept
            self.errors = errors
        }

        /// The layer's weight count.
        public var weights: Int { kept.last ?? 0 }

        /// The lower convex hull of the points (first and last point always on it).
        public var hull: Curve {
            var k: [Int] = [], e: [Double] = []
            for (x, y) in zip(kept, errors) {
                // Drop the middle point while it lies on or above the chord from its neighbours.
                while k.count >= 2 {
                    let (x0, y0, x1, y1) = (Double(k[k.count - 2]), e[e.count - 2], Double(k[k.count - 1]), e[e.count - 1])
                    guard (y1 - y0) * (Double(x) - x0) >= (y - y0) * (x1 - x0) else { break }
                    k.removeLast()
                    e.removeLast()
                }
                k.append(x)
                e.append(y)
            }
            return Curve(kept: k, errors: e)
        }

        /// The hull's error at `k` kept weights (linear between its points).
        public func hullError(at k: Int) -> Double {
            let h = hull
            guard let i = h.kept.firstIndex(where: { $0 >= k }) else { return h.errors.last ?? 0 }
            if h.kept[i] == k || i == 0 { return h.errors[i] }
            let t = Double(k - h.kept[i - 1]) / Double(h.kept[i] - h.kept[i - 1])
            return h.errors[i - 1] + t * (h.errors[i] - h.errors[i - 1])
        }
    }

    /// The `points` + 1 weight counts a layer of `weights` weights is measured at:
    /// ⌊i·weights/points + ½⌋ for i = 0 … points, without repeats.
    public static func gridCounts(weights: Int, points: Int = points) -> [Int] {
        var counts: [Int] = []
        for i in 0...points {
            let k = (2 * i * weights + points) / (2 * points)
            if counts.last != k { counts.append(k) }
        }
        return counts
    }

    /// The weights each layer keeps: exactly `total` in all (clamped to 0 … Σ weights), chosen
    /// greedily on the curves' hulls as the type's summary says.
    public static func allocate(_ curves: [Curve], total: Int) -> [Int] {
        struct Segment { let slope: Double, layer: Int, index: Int, width: Int }
        var segments: [Segment] = []
        for (l, c) in curves.enumerated() {
            let h = c.hull
            for i in 0..<(h.kept.count - 1) {
                let w = h.kept[i + 1] - h.kept[i]
                segments.append(Segment(slope: (h.errors[i] - h.errors[i + 1]) / Double(w), layer: l, index: i, width: w))
            }
        }
        // A hull's slopes fall along it, so within a layer its segments come in order.
        segments.sort { a, b in
            a.slope != b.slope ? a.slope > b.slope : (a.layer != b.layer ? a.layer < b.layer : a.index < b.index)
        }
        var kept = [Int](repeating: 0, count: curves.count)
        var left = min(max(0, total), curves.reduce(0) { $0 + $1.weights })
        for s in segments where left > 0 {
            let t = min(s.width, left)
            kept[s.layer] += t
            left -= t
        }
        return kept
    }
}
