/// The byte layout of one block of a ggml type, declared once (after ggml-common.h's block
/// structs): its fields in order, from which offsets and the block size follow.
public struct GGMLBlockLayout: Sendable, Equatable {
    /// One field of a block: a name (ggml's) and its size in bytes.
    public struct Field: Sendable, Equatable {
        /// ggml's field name (`d`, `dmin`, `scales`, `qs`, …).
        public let name: String
        /// Bytes the field takes.
        public let bytes: Int
    }

    /// Values one block encodes.
    public let values: Int
    /// The fields in storage order (no padding: ggml packs its blocks).
    public let fields: [Field]

    init(values: Int, _ fields: [(String, Int)]) {
        self.values = values
        self.fields = fields.map { Field(name: $0.0, bytes: $0.1) }
    }

    /// Bytes per block: the sum of the fields.
    public var bytes: Int { fields.reduce(0) { $0 + $1.bytes } }

    /// The byte offset of field `name` in the block (0 for an unknown name, which only the
    /// declarations below use, all with known names).
    public func offset(_ name: String) -> Int {
        var at = 0
        for f in fields {
            if f.name == name { return at }
            at += f.bytes
        }
        return 0
    }

    /// The super-block size of the K-quants (ggml `QK_K`).
    public static let superBlock = 256

    static let f32 = GGMLBlockLayout(values: 1, [("value", 4)])
    static let f16 = GGMLBlockLayout(values: 1, [("value", 2)])
    static let bf16 = GGMLBlockLayout(values: 1, [("value", 2)])
    static let f64 = GGMLBlockLayout(values: 1, [("value", 8)])
    static let i8 = GGMLBlockLayout(values: 1, [("value", 1)])
    static let i16 = GGMLBlockLayout(values: 1, [("value", 2)])
    static let i32 = GGMLBlockLayout(values: 1, [("value", 4)])
    static let i64 = GGMLBlockLayout(values: 1, [("value", 8)])
    /// x = d·(q − 8); nibble j is value j (low) and j+16 (high).
    static let q4_0 = GGMLBlockLayout(values: 32, [("d", 2), ("qs", 16)])
    /// x = d·q + m.
    static let q4_1 = GGMLBlockLayout(values: 32, [("d", 2), ("m", 2), ("qs", 16)])
    /// x = d·(q − 16); qh holds the fifth bit of value j at bit j.
    static let q5_0 = GGMLBlockLayout(values: 32, [("d", 2), ("qh", 4), ("qs", 16)])
    /// x = d·q + m with a fifth bit in qh.
    static let q5_1 = GGMLBlockLayout(values: 32, [("d", 2), ("m", 2), ("qh", 4), ("qs", 16)])
    /// x = d·q, q signed bytes.
    static let q8_0 = GGMLBlockLayout(values: 32, [("d", 2), ("qs", 32)])
    /// 16 sub-blocks of 16: 4-bit scale and min per sub-block, 2-bit values.
    static let q2_K = GGMLBlockLayout(values: superBlock, [("scales", 16), ("qs", 64), ("d", 2), ("dmin", 2)])
    /// 16 sub-blocks of 16: 6-bit signed scales, 2 low bits plus a high-bit mask.
    static let q3_K = GGMLBlockLayout(values: superBlock, [("hmask", 32), ("qs", 64), ("scales", 12), ("d", 2)])
    /// 8 sub-blocks of 32: 6-bit scale and min (get_scale_min_k4 packing), 4-bit values.
    static let q4_K = GGMLBlockLayout(values: superBlock, [("d", 2), ("dmin", 2), ("scales", 12), ("qs", 128)])
    /// Q4_K plus a fifth bit per value in qh.
    static let q5_K = GGMLBlockLayout(values: superBlock, [("d", 2), ("dmin", 2), ("scales", 12), ("qh", 32), ("qs", 128)])
    /// 16 sub-blocks of 16: signed 8-bit scales, 6-bit values (4 low in ql, 2 high in qh), d last.
    static let q6_K = GGMLBlockLayout(values: superBlock, [("ql", 128), ("qh", 64), ("scales", 16), ("d", 2)])
    /// x = d·kvalues[q] (the non-linear 16-entry table).
    static let iq4_NL = GGMLBlockLayout(values: 32, [("d", 2), ("qs", 16)])
    /// 8 sub-blocks of 32 of IQ4_NL values with 6-bit scales (4 low bits in scales_l, 2 in scales_h).
    static let iq4_XS = GGMLBlockLayout(values: superBlock, [("d", 2), ("scales_h", 2), ("scales_l", 4), ("qs", 128)])
}
