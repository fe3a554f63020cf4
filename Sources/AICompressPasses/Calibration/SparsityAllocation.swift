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

extension SparsityAllocation {
    /// How `--allocation output` refines a split: the error it minimises is measured at the
    /// model's output, on the calibration data, by pruning the whole model with the split.
    public struct Search: Sendable, Equatable {
        /// The split found (weights kept per layer; the same total as the start).
        public var kept: [Int]
        /// Its measured error.
        public var error: Double
        /// The start's measured error.
        public var startError: Double
        /// Splits measured (the start included).
        public var evaluations: Int
    }

    /// At most this many splits are measured for `layers` layers: 8 + 4 per layer.
    public static func searchLimit(layers: Int) -> Int { 8 + 4 * layers }

    /// `kept` with layer `layer` given `delta` more weights (fewer when negative), the other
    /// layers giving (taking) them in proportion to what they keep (to the weights they do not
    /// keep), whole weights by largest remainder, ties to the earlier layer: the total stays the
    /// same and every layer stays within 0 … `sizes[l]`. Nil when nothing can move (the layer is
    /// at its bound, or the others cannot give or take `delta`).
    public static func move(_ kept: [Int], sizes: [Int], layer: Int, by delta: Int) -> [Int]? {
        precondition(kept.count == sizes.count && kept.indices.contains(layer), "SparsityAllocation.move: bad layer or sizes")
        let d = max(-kept[layer], min(sizes[layer] - kept[layer], delta))
        guard d != 0 else { return nil }
        let others = kept.indices.filter { $0 != layer }
        let room = others.map { d > 0 ? kept[$0] : sizes[$0] - kept[$0] }
        let total = room.reduce(0, +), amount = abs(d)
        guard total >= amount else { return nil }
        // Whole shares ⌊amount·room/total⌋, then the remainder by largest fraction (exact integers).
        var share = room.map { amount * $0 / total }
        let fractions = room.enumerated().map { (index: $0.offset, rest: amount * $0.element % total) }
        let order = fractions.sorted { $0.rest != $1.rest ? $0.rest > $1.rest : $0.index < $1.index }
        for f in order.prefix(amount - share.reduce(0, +)) { share[f.index] += 1 }
        var out = kept
        out[layer] += d
        for (i, l) in others.enumerated() { out[l] -= d > 0 ? share[i] : -share[i] }
        return out
    }

    /// A local search from `start` (the curves' split): steps of K/8, K/16, K/32 and K/64 weights
    /// (K the total kept, at least 1), largest first; at each step every layer in turn is moved
    /// up, then down, by the step (`move`), and a move is kept when its measured `error` is lower
    /// (strictly: ties keep the split held); a step is repeated while a round improves. Each split
    /// is measured once, and at most `limit` are. Deterministic when `error` is.
    /// - Throws: what `error` throws.
    public static func search(from start: [Int], sizes: [Int], limit: Int,
                              error: ([Int]) throws -> Double) throws -> Search {
        var measured: [[Int]: Double] = [:]
        func measure(_ k: [Int]) throws -> Double {
            if let e = measured[k] { return e }
            let e = try error(k)
            measured[k] = e
            return e
        }
        var kept = start, best = try measure(start)
        let startError = best, total = start.reduce(0, +)
        var steps: [Int] = []
        for s in [8, 16, 32, 64] where !steps.contains(max(1, total / s)) { steps.append(max(1, total / s)) }
        search: for step in steps {
            var improved = true
            while improved {
                improved = false
                for layer in kept.indices {
                    for sign in [1, -1] {
                        guard let next = move(kept, sizes: sizes, layer: layer, by: sign * step) else { continue }
                        if measured[next] == nil && measured.count >= limit { break search }
                        let e = try measure(next)
                        if e < best { (kept, best, improved) = (next, e, true) }
                    }
                }
            }
        }
        return Search(kept: kept, error: best, startError: startError, evaluations: measured.count)
    }
}
