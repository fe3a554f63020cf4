import AICompressCore

/// `GGMLGPTQ`'s decision per column: on entering a block, fit every row's block header with
/// the type's own quantizer on the current weights (kept as the block's bytes), then round each
/// value onto that header's grid. Sweep column c is the matrix's column `order[c]`; blocks are
/// contiguous in the sweep (see `GGMLGPTQ.blockOrder`).
struct GGMLBlockRule: OBSColumnRule {
    let type: GGMLType
    let grid: GGMLBlockGrid
    let rows: Int, columns: Int, order: [Int]
    let importance: [Float]?
    let rowBytes: Int
    /// The encoded matrix: headers fixed block by block, levels set by `encode`.
    private(set) var bytes: [UInt8]
    /// Multiplier and offset of the current block's values, `rows × blockSize`.
    private var multipliers: [Float], offsets: [Float]
    /// With `GGMLGPTQ.ScaleSearch.sweepLoss`: the scale search by the sweep's loss.
    let search: GGMLSweepScaleSearch?

    /// `upper` (the sweep's factor U, sweep order) turns on the sweep-loss scale search for the
    /// types it supports (`GGMLSweepScaleSearch.supports`).
    init(type: GGMLType, rows: Int, columns n: Int, order: [Int], importance: [Float]?, upper: [Double]? = nil) {
        self.type = type
        // GGMLGPTQ.init checked the type.
        grid = GGMLBlockGrid(type) ?? GGMLBlockGrid(.q8_0)!
        self.rows = rows
        columns = n
        self.order = order
        self.importance = importance.flatMap { $0.count == n && type.usesImportance ? $0 : nil }
        rowBytes = n / type.blockSize * type.bytesPerBlock
        bytes = [UInt8](repeating: 0, count: rows * rowBytes)
        multipliers = [Float](repeating: 0, count: rows * type.blockSize)
        offsets = multipliers
        if let upper, GGMLSweepScaleSearch.supports(type) {
            search = GGMLSweepScaleSearch(grid: grid, upper: upper, n: n)
        } else {
            search = nil
        }
    }

    mutating func begin(column c: Int, blockStart: Int, blockEnd: Int, weights: UnsafeBufferPointer<Float>,
                        rows: Int, columns n: Int, diagonal: [Double]) {
        let b = type.blockSize
        guard c % b == 0 else { return }
        let block = order[c] / b, size = type.bytesPerBlock
        var values = [Float](repeating: 0, count: b), weightsOfBlock = [Float](repeating: 0, count: b)
        if let importance { for k in 0..<b { weightsOfBlock[k] = importance[block * b + k] } }
        for r in 0..<rows {
            // The block's values in the matrix's own column order (the sweep may hold them permuted).
            for s in c..<(c + b) { values[order[s] - block * b] = weights[r * n + s] }
            let at = r * rowBytes + block * size
            bytes.withUnsafeMutableBytes { all in
                let out = UnsafeMutableRawBufferPointer(rebasing: all[at..<(at + size)])
                values.withUnsafeBufferPointer { v in
                    if importance != nil {
                        weightsOfBlock.withUnsafeBufferPointer { try? type.quantize(v, rowLength: b, importance: $0, into: out) }
                    } else {
                        try? type.quantize(v, into: out)
                    }
                }
                if let search {
                    // Sweep order (`weights`), not the block's: the search runs the sweep.
                    let own = Float(Float16(bitPattern: UInt16(out[0]) | UInt16(out[1]) << 8))
                    let d = search.scale(weights.baseAddress! + r * n + c, count: b, start: c, own: own)
                    let bits = Float16(d).bitPattern
                    (out[0], out[1]) = (UInt8(bits & 0xFF), UInt8(bits >> 8))
                }
                multipliers.withUnsafeMutableBufferPointer { m in
                    offsets.withUnsafeMutableBufferPointer { o in
                        grid.parameters(UnsafeRawBufferPointer(out), multipliers: m.baseAddress! + r * b, offsets: o.baseAddress! + r * b)
                    }
                }
            }
        }
    }

    func fix(row: Int, column c: Int, value: Float) -> Float {
        let b = type.blockSize, k = row * b + order[c] % b
        let m = multipliers[k], o = offsets[k]
        return grid.value(grid.level(value, multiplier: m, offset: o), multiplier: m, offset: o)
    }

    /// The bytes with every level set from `weights` (`rows × columns`, the matrix's order),
    /// each value a point of its block's grid.
    func encode(_ weights: [Float]) -> [UInt8] {
        var out = bytes
        let b = type.blockSize, size = type.bytesPerBlock
        var m = [Float](repeating: 0, count: b), o = m
        out.withUnsafeMutableBytes { all in
            for r in 0..<rows {
                for block in 0..<(columns / b) {
                    let at = r * rowBytes + block * size
                    let y = UnsafeMutableRawBufferPointer(rebasing: all[at..<(at + size)])
                    grid.parameters(UnsafeRawBufferPointer(y), multipliers: &m, offsets: &o)
                    for k in 0..<b {
                        grid.store(grid.level(weights[r * columns + block * b + k], multiplier: m[k], offset: o[k]), at: k, y)
                    }
                }
            }
        }
        return out
    }
}
