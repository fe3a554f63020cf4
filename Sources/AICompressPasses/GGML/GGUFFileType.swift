import AICompressCore

/// A llama.cpp file type (`llama_ftype`, llama.h) that `quantize --gguf` writes: its name as
/// llama-quantize spells it, its id (`general.file_type`) and the type most tensors get
/// (`llama_ftype_get_default_type`, src/llama-quant.cpp).
public struct GGUFFileType: Sendable, Hashable, CustomStringConvertible {
    /// llama-quantize's name (`Q4_K_M`).
    public let name: String
    /// The `llama_ftype` number written as `general.file_type`.
    public let id: UInt32
    /// The base type of the mix.
    public let defaultType: GGMLType

    public var description: String { name }

    /// The file types, in llama-quantize's listing order.
    public static let all: [GGUFFileType] = [
        GGUFFileType(name: "Q4_0", id: 2, defaultType: .q4_0),
        GGUFFileType(name: "Q4_1", id: 3, defaultType: .q4_1),
        GGUFFileType(name: "Q5_0", id: 8, defaultType: .q5_0),
        GGUFFileType(name: "Q5_1", id: 9, defaultType: .q5_1),
        GGUFFileType(name: "Q2_K", id: 10, defaultType: .q2_K),
        GGUFFileType(name: "Q2_K_S", id: 21, defaultType: .q2_K),
        GGUFFileType(name: "Q3_K_S", id: 11, defaultType: .q3_K),
        GGUFFileType(name: "Q3_K_M", id: 12, defaultType: .q3_K),
        GGUFFileType(name: "Q3_K_L", id: 13, defaultType: .q3_K),
        GGUFFileType(name: "IQ4_NL", id: 25, defaultType: .iq4_NL),
        GGUFFileType(name: "IQ4_XS", id: 30, defaultType: .iq4_XS),
        GGUFFileType(name: "Q4_K_S", id: 14, defaultType: .q4_K),
        GGUFFileType(name: "Q4_K_M", id: 15, defaultType: .q4_K),
        GGUFFileType(name: "Q5_K_S", id: 16, defaultType: .q5_K),
        GGUFFileType(name: "Q5_K_M", id: 17, defaultType: .q5_K),
        GGUFFileType(name: "Q6_K", id: 18, defaultType: .q6_K),
        GGUFFileType(name: "Q8_0", id: 7, defaultType: .q8_0),
        GGUFFileType(name: "F16", id: 1, defaultType: .f16),
        GGUFFileType(name: "BF16", id: 32, defaultType: .bf16),
    ]

    /// llama-quantize's aliases: `Q3_K` is `Q3_K_M`, `Q4_K` is `Q4_K_M`, `Q5_K` is `Q5_K_M`
    /// (tools/quantize).
    static let aliases = ["Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"]

    /// Every name `named(_:)` accepts, in listing order (aliases last).
    public static var names: [String] { all.map(\.name) + aliases.keys.sorted() }

    /// The file type called `name` (case-insensitive; aliases resolved).
    public static func named(_ name: String) -> GGUFFileType? {
        let upper = name.uppercased()
        let resolved = aliases[upper] ?? upper
        return all.first { $0.name == resolved }
    }

    /// True for the mixes whose default type is a block type (the per-tensor rules apply).
    public var isQuantized: Bool { defaultType.isQuantized }

    /// True when llama-quantize refuses the file type without an importance matrix: Q2_K_S,
    /// whose Q2_K tensors other than token_embd and output need one (`tensor_requires_imatrix`).
    public var requiresImportance: Bool { name == "Q2_K_S" }
}
