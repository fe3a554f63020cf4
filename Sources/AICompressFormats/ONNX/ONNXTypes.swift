import AICompressCore

/// The mapping between ONNX `TensorProto.DataType` codes and aicompress dtypes.
public enum ONNXTypes {
    /// The ONNX code of a dtype.
    public static func code(of dtype: DType) -> Int32 {
        switch dtype {
        case .f32: return 1
        case .u8: return 2
        case .i8: return 3
        case .u16: return 4
        case .i16: return 5
        case .i32: return 6
        case .i64: return 7
        case .bool: return 9
        case .f16: return 10
        case .f64: return 11
        case .u32: return 12
        case .u64: return 13
        case .bf16: return 16
        case .u4: return 21
        case .i4: return 22
        }
    }

    /// The dtype of an ONNX code, when aicompress supports it.
    public static func dtype(of code: Int32) -> DType? {
        DType.allCases.first { self.code(of: $0) == code }
    }

    /// ONNX's name for a data type code.
    public static func typeName(_ code: Int32) -> String { ONNXElementType.name(code).uppercased() }

    /// The smallest IR version that can hold a dtype (4-bit integers need IR 10).
    static func minimumIRVersion(for dtype: DType) -> Int64 {
        switch dtype {
        case .i4, .u4: return 10
        default: return 3
        }
    }
}
