import AICompressCore

/// Where a fold's channels sit in each value between its producer and the members' input, so the
/// walk can prove that dividing the producer's channel c by s_c divides exactly the members'
/// columns of channel c, through the nodes that move values without mixing channels:
///
/// - `Reshape` whose shape ends in constants splitting (or merging) the channel axes, which must
///   be the value's trailing axes in order: row-major order keeps a row's channels together
///   (an attention's heads split off the hidden axis and merged back);
/// - `Transpose` (its `perm` moves the axes);
/// - `MatMul` with the value as B and the channels off B's contracted axis (softmax(QKᵀ)·V: each
///   output channel is a combination of the same channel of V, so 1/s carries through);
/// - `MaxPool`, `AveragePool`, `GlobalMaxPool`, `GlobalAveragePool` over a channel on axis 1
///   (they commute with a positive per-channel scale);
/// - `Flatten` (or a `Reshape` to [0, -1] / [0, columns]) from the channel axis on: each channel
///   becomes a block of columns, one scale for the block (the scales are tied).
///
/// Axes are counted from the end (−1 is the last), so a leading batch dimension of any size and
/// broadcasting in `MatMul` leave them alone.
struct ChannelLayout: Equatable {
    /// The axes the channel index spans, major first (−1: the last axis).
    var axes: [Int]
    /// Their sizes.
    var sizes: [Int]
    /// The value's rank when the graph fixes it.
    var rank: Int?
    /// Columns per channel once flattened; nil before a flatten.
    var tie: Int?

    /// Channels on the last axis (a linear layer's or a norm's output).
    static func last(_ n: Int, rank: Int?) -> ChannelLayout { ChannelLayout(axes: [-1], sizes: [n], rank: rank, tie: nil) }

    /// Channels on axis 1 of a value of rank `rank` (a convolution's output).
    static func channelAxis(_ c: Int, rank: Int) -> ChannelLayout { ChannelLayout(axes: [1 - rank], sizes: [c], rank: rank, tie: nil) }

    /// The number of channels.
    var channels: Int { sizes.reduce(1, *) }

    /// Whether the channels are exactly the trailing axes, in order.
    var trailing: Bool { axes == Array((-axes.count)...(-1)) }
}

extension FoldWalk {
    /// The constant trailing entries of a Reshape's shape input (an integer initializer, or a
    /// `Concat` along 0 whose last inputs are), and the entry count when all of it is constant.
    func shapeSuffix(_ name: String) -> (suffix: [Int], count: Int?) {
        func constant(_ t: String) -> [Int]? {
            guard let w = tensors[t], w.encoding == .dense, [.i64, .i32].contains(w.dtype), w.shape.rank <= 1 else { return nil }
            let v = w.doubleValues()
            guard v.allSatisfy({ abs($0) < 1e15 }) else { return nil }
            return v.map { Int($0) }
        }
        if let c = constant(name) { return (c, c.count) }
        guard let k = producer[name], nodes[k].opType == "Concat", nodes[k].domain.isEmpty || nodes[k].domain == "ai.onnx" else { return ([], nil) }
        if case .int(let a) = nodes[k].attribute("axis"), a != 0 && a != -1 { return ([], nil) }
        var suffix: [Int] = []
        for input in nodes[k].inputs.reversed() {
            guard let c = constant(input) else { return (suffix, nil) }
            suffix = c + suffix
        }
        return (suffix, suffix.count)
    }

    /// Follows `layout` forward through `chain` (node indices, producer side first; `values[i]`
    /// is the value entering node i). On success the layout at the members' input is the last
    /// axis of `columns` with `tie` columns per channel, and `ranks` holds the ranks the proof
    /// assumes of values the graph does not fix (checked on the calibration data); otherwise why not.
    func follow(_ chain: [Int], values: [String], from start: ChannelLayout, columns n: Int) -> Result<(tie: Int, ranks: [String: Int]), FoldRefusal> {
        var l = start, ranks: [String: Int] = [:]
        for (k, v) in zip(chain, values) {
            let node = nodes[k]
            func refuse(_ why: String) -> Result<(tie: Int, ranks: [String: Int]), FoldRefusal> { .failure(FoldRefusal("\(label(k)) \(why)")) }
            if l.tie != nil { return refuse("moves the columns of a flattened value") }
            switch node.opType {
            case "Reshape":
                let (suffix, count) = shapeSuffix(node.inputs.count > 1 ? node.inputs[1] : "")
                let zero: Bool = { if case .int(let z) = node.attribute("allowzero") { return z != 0 }; return false }()
                if let r = l.rank, l.axes == [1 - r], r >= 2, count == 2, suffix[0] == 0, !zero, suffix[1] == -1 || suffix[1] == n, n % l.channels == 0 {
                    l = ChannelLayout(axes: [-1], sizes: [l.channels], rank: 2, tie: n / l.channels)
                    continue
                }
                guard l.trailing else { return refuse("reshapes a value whose channels are not its trailing axes") }
                var split: [Int] = [], product = 1
                for d in suffix.reversed() where product < l.channels {
                    guard d > 0, d <= l.channels else { return refuse("has no constant shape over the channels") }
                    split.insert(d, at: 0)
                    product *= d
                }
                guard product == l.channels else { return refuse("does not keep the \(l.channels) channels on its trailing axes") }
                l = ChannelLayout(axes: Array((-split.count)...(-1)), sizes: split, rank: count, tie: nil)
            case "Transpose":
                guard case .ints(let p) = node.attribute("perm") else { return refuse("has no perm") }
                let perm = p.map { Int($0) }, r = perm.count
                if let known = l.rank, known != r { return refuse("has a perm of rank \(r) for a value of rank \(known)") }
                var axes: [Int] = []
                for a in l.axes {
                    guard r + a >= 0, let i = perm.firstIndex(of: r + a) else { return refuse("has a perm that loses a channel axis") }
                    axes.append(i - r)
                }
                l = ChannelLayout(axes: axes, sizes: l.sizes, rank: r, tie: nil)
            case "MatMul":
                guard node.inputs.count == 2, node.inputs[1] == v, node.inputs[0] != v else { return refuse("does not read the value as B alone") }
                guard !l.axes.contains(-2) else { return refuse("contracts over a channel axis") }
                // A channel axis of size 1 in B could be broadcast against A's: each channel must be B's own.
                guard zip(l.axes, l.sizes).allSatisfy({ $0.0 == -1 || $0.1 > 1 }) else { return refuse("could broadcast a channel axis") }
                if let r = l.rank { guard r >= 2 else { return refuse("reads a vector") } }
                else if l.axes.min()! > -3 { ranks[v] = 2 }
                ranks[node.inputs[0]] = 2
                l.rank = nil
            case "MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool":
                guard let r = l.rank, r >= 3, l.axes == [1 - r] else { return refuse("pools a value whose channels are not its axis 1") }
            case "Flatten":
                guard let r = l.rank else { return refuse("flattens a value of unknown rank") }
                var a = 1
                if case .int(let x) = node.attribute("axis") { a = Int(x) < 0 ? Int(x) + r : Int(x) }
                guard l.axes.map({ $0 + r }) == Array(a..<(a + l.axes.count)), n % l.channels == 0 else {
                    return refuse("does not start its columns at the channel axes")
                }
                l = ChannelLayout(axes: [-1], sizes: [l.channels], rank: 2, tie: n / l.channels)
            default:
                return refuse("moves values in a way the fold does not follow")
            }
        }
        if let t = l.tie { return .success((t, ranks)) }
        guard l.axes == [-1], l.sizes == [n] else { return .failure(FoldRefusal("the channels do not arrive as the \(n) columns of the input in order")) }
        return .success((1, ranks))
    }
}

/// Why a fold through a chain of nodes is not exact.
struct FoldRefusal: Error {
    /// The reason, for the report.
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
