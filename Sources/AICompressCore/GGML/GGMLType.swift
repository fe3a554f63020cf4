/// A tensor type of ggml (llama.cpp), with the ids GGUF files store (ggml.h `enum ggml_type`).
///
/// Only the types aicompress decodes are cases; `init(id:)` refuses the others by name.
public enum GGMLType: UInt32, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case iq4_NL = 20
    case iq4_XS = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case bf16 = 30

    /// The type with this GGUF id.
    /// - Throws: `GGMLError.unsupportedType` for a ggml type aicompress does not decode (named),
    ///   `.unknownType` for an id ggml does not define.
    public init(id: UInt32) throws(GGMLError) {
        if let t = GGMLType(rawValue: id) {
            self = t
        } else if let name = GGMLType.otherTypeNames[id] {
            throw .unsupportedType(id: id, name: name)
        } else {
            throw .unknownType(id: id)
        }
    }

    /// The type with this name (`"Q4_K"`, `"f16"`; case-insensitive).
    public init?(name: String) {
        let upper = name.uppercased()
        guard let t = GGMLType.allCases.first(where: { $0.name.uppercased() == upper }) else { return nil }
        self = t
    }

    /// The name gguf-py and llama-quantize print (`Q4_K`, `IQ4_NL`, `BF16`).
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .iq4_NL: return "IQ4_NL"
        case .iq4_XS: return "IQ4_XS"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .f64: return "F64"
        case .bf16: return "BF16"
        }
    }

    public var description: String { name }

    /// The block layout (values per block, fields, bytes per block).
    public var layout: GGMLBlockLayout {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q5_0: return .q5_0
        case .q5_1: return .q5_1
        case .q8_0: return .q8_0
        case .q2_K: return .q2_K
        case .q3_K: return .q3_K
        case .q4_K: return .q4_K
        case .q5_K: return .q5_K
        case .q6_K: return .q6_K
        case .iq4_NL: return .iq4_NL
        case .iq4_XS: return .iq4_XS
        case .i8: return .i8
        case .i16: return .i16
        case .i32: return .i32
        case .i64: return .i64
        case .f64: return .f64
        case .bf16: return .bf16
        }
    }

    /// Values per block (1 for the plain types).
    public var blockSize: Int { layout.values }

    /// Bytes per block.
    public var bytesPerBlock: Int { layout.bytes }

    /// Storage bits per value.
    public var bitsPerWeight: Double { Double(layout.bytes * 8) / Double(layout.values) }

    /// True for the block-quantized types (not a plain element type).
    public var isQuantized: Bool { layout.values > 1 }

    /// Bytes that `elements` values of this type take, or nil when `elements` is negative, not a
    /// whole number of blocks, or the size overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (n, overflow) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : n
    }

    /// ggml type ids that exist but that aicompress does not decode, by name, so they are refused
    /// by name rather than as unknown numbers.
    static let otherTypeNames: [UInt32: String] = [
        4: "Q4_2 (removed from ggml)", 5: "Q4_3 (removed from ggml)", 9: "Q8_1", 15: "Q8_K",
        16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 21: "IQ3_S", 22: "IQ2_S", 29: "IQ1_M",
        31: "Q4_0_4_4 (removed from ggml)", 32: "Q4_0_4_8 (removed from ggml)", 33: "Q4_0_8_8 (removed from ggml)",
        34: "TQ1_0", 35: "TQ2_0", 36: "IQ4_NL_4_4 (removed from ggml)", 37: "IQ4_NL_4_8 (removed from ggml)",
        38: "IQ4_NL_8_8 (removed from ggml)", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0",
    ]
}
