import AICompressCore

/// Decodes the typed value fields of a TensorProto (float_data, int32_data, …) into the dense
/// little-endian layout, checking counts and ranges (onnx.proto says which field holds which type).
enum ONNXTypedData {
    static func decode(_ t: TensorRecord, dtype: DType, count: Int, bytes: Int) throws -> TensorData {
        let name = t.name
        func check(_ field: String, _ actual: Int, _ expected: Int) throws {
            guard actual == expected else {
                if actual == 0 && t.stringCount == 0 { throw ONNXError.missingData(tensor: name) }
                throw ONNXError.typedDataCountMismatch(tensor: name, field: field, expected: expected, actual: actual)
            }
        }
        func outOfRange(_ field: String, _ v: Int64) -> ONNXError {
            .typedValueOutOfRange(tensor: name, field: field, value: v)
        }
        if count == 0 { return TensorData(bytes: []) }
        switch dtype {
        case .f32:
            try check("float_data", t.floatData.count, count)
            return TensorData(values: t.floatData.map { $0.bitPattern.littleEndian })
        case .f64:
            try check("double_data", t.doubleData.count, count)
            return TensorData(values: t.doubleData.map { $0.bitPattern.littleEndian })
        case .i64:
            try check("int64_data", t.int64Data.count, count)
            return TensorData(values: t.int64Data.map { $0.littleEndian })
        case .u64:
            try check("uint64_data", t.uint64Data.count, count)
            return TensorData(values: t.uint64Data.map { $0.littleEndian })
        case .u32:
            try check("uint64_data", t.uint64Data.count, count)
            guard let bad = t.uint64Data.first(where: { $0 > UInt64(UInt32.max) }) else {
                return TensorData(values: t.uint64Data.map { UInt32($0).littleEndian })
            }
            throw outOfRange("uint64_data", Int64(bitPattern: bad))
        case .i32:
            try check("int32_data", t.int32Data.count, count)
            return TensorData(values: t.int32Data.map { $0.littleEndian })
        case .i16, .u16, .f16, .bf16:
            try check("int32_data", t.int32Data.count, count)
            let range: ClosedRange<Int32> = dtype == .i16 ? -32768...32767 : 0...65535
            if let bad = t.int32Data.first(where: { !range.contains($0) }) { throw outOfRange("int32_data", Int64(bad)) }
            return TensorData(values: t.int32Data.map { UInt16(truncatingIfNeeded: $0).littleEndian })
        case .i8, .u8, .bool:
            try check("int32_data", t.int32Data.count, count)
            let range: ClosedRange<Int32> = dtype == .i8 ? -128...127 : (dtype == .bool ? 0...1 : 0...255)
            if let bad = t.int32Data.first(where: { !range.contains($0) }) { throw outOfRange("int32_data", Int64(bad)) }
            return TensorData(values: t.int32Data.map { UInt8(truncatingIfNeeded: $0) })
        case .i4, .u4:
            // Two 4-bit values per int32 entry, first value in the low nibble.
            try check("int32_data", t.int32Data.count, bytes)
            if let bad = t.int32Data.first(where: { !(0...255).contains($0) }) { throw outOfRange("int32_data", Int64(bad)) }
            var packed = t.int32Data.map { UInt8(truncatingIfNeeded: $0) }
            if count % 2 == 1, let last = packed.last { packed[packed.count - 1] = last & 0x0F }
            return TensorData(bytes: packed)
        }
    }
}
