/// Index maps for the ops that move elements without computing (Transpose, Slice, Tile, Expand,
/// Pad, Split): each output element reads one input element, and the gradient adds each output
/// gradient back at that element.
enum IndexMap {
    /// A source offset marking an output element that reads no input (Pad's constant border).
    static let outside = -(1 << 56)

    /// For each element of `outShape` (row-major), Σ_d `offsets[d][coordinate d]`: the flat
    /// source index, or a negative value when some coordinate maps `outside`.
    static func indices(_ outShape: [Int], _ offsets: [[Int]]) -> [Int] {
        let total = outShape.reduce(1, *)
        var idx = [Int](repeating: 0, count: total)
        guard total > 0 else { return idx }
        let r = outShape.count
        if r == 0 { return idx }
        let last = offsets[r - 1], n = outShape[r - 1]
        var coord = [Int](repeating: 0, count: r)
        var base = offsets.indices.dropLast().reduce(0) { $0 + offsets[$1][0] }
        var o = 0
        idx.withUnsafeMutableBufferPointer { p in
            while o < total {
                for j in 0..<n { p[o + j] = base + last[j] }
                o += n
                var d = r - 2
                while d >= 0 {
                    base -= offsets[d][coord[d]]
                    coord[d] += 1
                    if coord[d] < outShape[d] { base += offsets[d][coord[d]]; break }
                    coord[d] = 0
                    base += offsets[d][0]
                    d -= 1
                }
            }
        }
        return idx
    }

    /// Offsets of a strided selection: along each dimension, `count` coordinates from `start`
    /// by `step`.
    static func strided(_ shape: [Int], start: [Int], step: [Int], count: [Int]) -> [[Int]] {
        let s = NDArray.strides(shape)
        return (0..<shape.count).map { d in (0..<count[d]).map { (start[d] + $0 * step[d]) * s[d] } }
    }

    /// The elements of `x` at `src` (negative: `fill`), as an array of `shape`.
    static func gather(_ x: NDArray, _ src: [Int], shape: [Int], fill: Double = 0) -> NDArray {
        if x.isFloat {
            let f = Float(fill)
            return x.floats.withUnsafeBufferPointer { p in NDArray(shape: shape, floats: src.map { $0 >= 0 ? p[$0] : f }) }
        }
        let f = Int64(fill)
        return x.ints.withUnsafeBufferPointer { p in NDArray(shape: shape, ints: src.map { $0 >= 0 ? p[$0] : f }, kind: x.kind) }
    }

    /// The gradient of a gather: `g` added back at `src` into an array of `shape`.
    static func scatterAdd(_ g: NDArray, _ src: [Int], shape: [Int]) -> NDArray {
        var dx = [Float](repeating: 0, count: shape.reduce(1, *))
        dx.withUnsafeMutableBufferPointer { p in
            for (o, s) in src.enumerated() where s >= 0 { p[s] += g.floats[o] }
        }
        return NDArray(shape: shape, floats: dx)
    }
}
