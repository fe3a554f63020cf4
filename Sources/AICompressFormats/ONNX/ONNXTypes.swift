import AICompressCore

/// The mapping between ONNX `TensorProto.DataType` codes and aicompress dtypes.
public enum ONNXTypes {
    private typealias E = ONNXElementType

    /// `TensorProto.data_location` EXTERNAL: the bytes are in a side file named by `external_data`.
    static let externalDataLocation: Int32 = 1

    /// The ONNX code of a dtype.
    public static func code(of dtype: DType) -> Int32 {
        switch dtype {
        case .f32: return E.float
        case .u8: return E.uint8
        case .i8: return E.int8
        case .u16: return E.uint16
        case .i16: return E.int16
        case .i32: return E.int32
        case .i64: return E.int64
        case .bool: return E.bool
        case .f16: return E.float16
        case .f64: return E.double
        case .u32: return E.uint32
        case .u64: return E.uint64
        case .bf16: return E.bfloat16
        case .u4: return E.uint4
        case .i4: return E.int4
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
