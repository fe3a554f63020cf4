import AICompressCore

/// Limits and names of the safetensors format (huggingface/safetensors README, tensor.rs).
public enum SafetensorsLayout {
    /// The reference reader's cap on the JSON header.
    public static let maxHeaderBytes = 100_000_000

    /// safetensors dtype names and the aicompress dtype each maps to (nil: known, unsupported).
    static let dtypes: [String: DType?] = [
        "BOOL": .bool, "U8": .u8, "I8": .i8, "I16": .i16, "U16": .u16, "F16": .f16, "BF16": .bf16,
        "I32": .i32, "U32": .u32, "F32": .f32, "F64": .f64, "I64": .i64, "U64": .u64,
        "F8_E5M2": nil, "F8_E4M3": nil, "F8_E8M0": nil, "F4": nil, "F6_E2M3": nil, "F6_E3M2": nil, "C64": nil,
    ]

    /// The safetensors name of a dtype, or nil when safetensors has none (4-bit integers).
    static func name(of dtype: DType) -> String? {
        switch dtype {
        case .bool: return "BOOL"
        case .u8: return "U8"
        case .i8: return "I8"
        case .i16: return "I16"
        case .u16: return "U16"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .i32: return "I32"
        case .u32: return "U32"
        case .f32: return "F32"
        case .f64: return "F64"
        case .i64: return "I64"
        case .u64: return "U64"
        case .i4, .u4: return nil
        }
    }
}
