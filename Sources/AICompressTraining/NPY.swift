/// NumPy .npy arrays (format versions 1–3), read strictly: the header's dict is parsed for
/// `descr`, `fortran_order` and `shape`, and the data size must match the shape exactly.
public enum NPY {
    public static let maxHeaderBytes = 1 << 20

    /// Shape and values of an .npy file, as Double (exact for every supported dtype but 64-bit
    /// integers beyond 2^53).
    public static func read(_ bytes: [UInt8], file: String) throws(DataError) -> (shape: [Int], values: [Double]) {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(DataError) -> (shape: [Int], values: [Double]) in try read(raw, file: file) }
        }.get()
    }

    /// The same from bytes in place (a mapped file), without copying them.
    public static func read(_ b: UnsafeRawBufferPointer, file: String) throws(DataError) -> (shape: [Int], values: [Double]) {
        let h = try header(b, file: file)
        let count = h.count, width = h.width, data = h.data
        var out = [Double](repeating: 0, count: count)
        // One loop per dtype (the dtype test stays out of the per-element work).
        func decode<T>(_: T.Type, _ convert: (T) -> Double) {
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<count { o[i] = convert(b.loadUnaligned(fromByteOffset: data + i * width, as: T.self)) }
            }
        }
        switch h.kind {
        case "<f4": decode(UInt32.self) { Double(Float(bitPattern: $0)) }
        case "<f8": decode(UInt64.self) { Double(bitPattern: $0) }
        case "<f2": decode(UInt16.self) { Double(Float(Float16(bitPattern: $0))) }
        case "<i4": decode(Int32.self) { Double($0) }
        case "<u4": decode(UInt32.self) { Double($0) }
        case "<i8": decode(Int64.self) { Double($0) }
        case "<u8": decode(UInt64.self) { Double($0) }
        case "<i2": decode(Int16.self) { Double($0) }
        case "<u2": decode(UInt16.self) { Double($0) }
        case "|i1": decode(Int8.self) { Double($0) }
        default: decode(UInt8.self) { Double($0) }  // |u1, |b1
        }
        if h.fortran { out = rowMajor(out, shape: h.shape) }
        return (h.shape, out)
    }

    /// An .npy file as an executor array: float dtypes as float32, integer dtypes as exact int64
    /// (uint64 above 2^63 wraps, as a cast would), booleans as bool.
    public static func array(_ b: UnsafeRawBufferPointer, file: String) throws(DataError) -> NDArray {
        let h = try header(b, file: file)
        let count = h.count, width = h.width, data = h.data
        func ints<T: BinaryInteger>(_: T.Type) -> [Int64] {
            (0..<count).map { Int64(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: data + $0 * width, as: T.self)) }
        }
        var a: NDArray
        switch h.kind {
        case "<f4": a = NDArray(shape: h.shape, floats: (0..<count).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: data + $0 * 4, as: UInt32.self)) })
        case "<f8": a = NDArray(shape: h.shape, floats: (0..<count).map { Float(Double(bitPattern: b.loadUnaligned(fromByteOffset: data + $0 * 8, as: UInt64.self))) })
        case "<f2": a = NDArray(shape: h.shape, floats: (0..<count).map { Float(Float16(bitPattern: b.loadUnaligned(fromByteOffset: data + $0 * 2, as: UInt16.self))) })
        case "<i8": a = NDArray(shape: h.shape, ints: ints(Int64.self))
        case "<u8": a = NDArray(shape: h.shape, ints: ints(UInt64.self))
        case "<i4": a = NDArray(shape: h.shape, ints: ints(Int32.self))
        case "<u4": a = NDArray(shape: h.shape, ints: ints(UInt32.self))
        case "<i2": a = NDArray(shape: h.shape, ints: ints(Int16.self))
        case "<u2": a = NDArray(shape: h.shape, ints: ints(UInt16.self))
        case "|i1": a = NDArray(shape: h.shape, ints: ints(Int8.self))
        case "|b1": a = NDArray(shape: h.shape, ints: ints(UInt8.self).map { $0 != 0 ? 1 : 0 }, kind: .bool)
        default: a = NDArray(shape: h.shape, ints: ints(UInt8.self))  // |u1
        }
        if h.fortran {
            if a.isFloat { a.floats = rowMajor(a.floats, shape: h.shape) } else { a.ints = rowMajor(a.ints, shape: h.shape) }
        }
        return a
    }

    /// What the header says: shape, dtype, order, and where the data starts (checked to fill the
    /// rest of the file exactly).
    struct Header {
        var shape: [Int], kind: String, width: Int, fortran: Bool, data: Int
        var count: Int { shape.reduce(1, *) }
    }

    static func header(_ b: UnsafeRawBufferPointer, file: String) throws(DataError) -> Header {
        func fail(_ m: String) -> DataError { DataError(file: file, "not a valid .npy file: \(m)") }
        guard b.count >= 10, b[0] == 0x93, Array(b[1...5]) == Array("NUMPY".utf8) else { throw fail("bad magic") }
        let major = b[6]
        let headerLen: Int, start: Int
        switch major {
        case 1:
            headerLen = Int(b[8]) | Int(b[9]) << 8
            start = 10
        case 2, 3:
            guard b.count >= 12 else { throw fail("truncated header length") }
            headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
            start = 12
        default: throw fail("unsupported format version \(major)")
        }
        guard headerLen <= maxHeaderBytes, start + headerLen <= b.count else { throw fail("header length \(headerLen) exceeds the file") }
        guard let header = String(validating: UnsafeRawBufferPointer(rebasing: b[start..<(start + headerLen)]).bindMemory(to: UInt8.self),
                                  as: UTF8.self) else { throw fail("header is not text") }
        func value(_ key: String) -> Substring? {
            guard let r = header.range(of: "'\(key)'") else { return nil }
            var rest = header[r.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst().drop { $0 == " " }
            if rest.first == "(" { return rest.prefix { $0 != ")" }.dropFirst() }
            if rest.first == "'" { return rest.dropFirst().prefix { $0 != "'" } }
            return rest.prefix { $0 != "," && $0 != "}" }
        }
        guard let descr = value("descr"), let shapeText = value("shape"), let fortranText = value("fortran_order") else {
            throw fail("header lacks descr, shape or fortran_order")
        }
        var shape = [Int]()
        for part in shapeText.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0 else { throw fail("bad shape (\(shapeText))") }
            shape.append(d)
        }
        var count = 1
        for d in shape {
            let (m, o) = count.multipliedReportingOverflow(by: d)
            guard !o, m <= 1 << 40 else { throw fail("shape \(shape) is too large") }
            count = m
        }
        let fortran = fortranText.trimmingCharacters(in: .whitespaces) == "True" && shape.count > 1
        let kind = String(descr)
        let width: Int
        switch kind {
        case "<f4", "<i4", "<u4": width = 4
        case "<f8", "<i8", "<u8": width = 8
        case "<i2", "<u2", "<f2": width = 2
        case "|u1", "|i1", "|b1": width = 1
        default: throw fail("unsupported dtype '\(kind)' (little-endian numbers only)")
        }
        let data = start + headerLen
        guard b.count - data == count * width else {
            throw fail("data holds \(b.count - data) bytes, shape \(shape) of \(kind) needs \(count * width)")
        }
        return Header(shape: shape, kind: kind, width: width, fortran: fortran, data: data)
    }

    /// Column-major values reordered to row-major.
    static func rowMajor<T>(_ values: [T], shape: [Int]) -> [T] {
        var reordered = values
        let rs = NDArray.strides(shape)
        var cs = [Int](repeating: 1, count: shape.count)
        for i in 1..<shape.count { cs[i] = cs[i - 1] * shape[i - 1] }
        for i in 0..<values.count {
            var rem = i, src = 0
            for d in 0..<shape.count { src += (rem / rs[d]) * cs[d]; rem %= rs[d] }
            reordered[i] = values[src]
        }
        return reordered
    }

    /// A data set from a features array (first axis = rows) and an optional labels array.
    public static func dataset(features: [UInt8], file: String, labels: [UInt8]?, labelsFile: String,
                               missing: MissingStrategy, statistics: MissingStatistics? = nil) throws(DataError) -> Dataset {
        try features.withUnsafeBytes { f in
            Result { () throws(DataError) -> Dataset in
                guard let labels else { return try dataset(features: f, file: file, labels: nil, labelsFile: labelsFile, missing: missing, statistics: statistics) }
                return try labels.withUnsafeBytes { l in
                    Result { () throws(DataError) -> Dataset in
                        try dataset(features: f, file: file, labels: l, labelsFile: labelsFile, missing: missing, statistics: statistics)
                    }
                }.get()
            }
        }.get()
    }

    /// A data set from mapped bytes, without copying them.
    public static func dataset(features: UnsafeRawBufferPointer, file: String, labels: UnsafeRawBufferPointer?, labelsFile: String,
                               missing: MissingStrategy, statistics: MissingStatistics? = nil) throws(DataError) -> Dataset {
        let (shape, values) = try read(features, file: file)
        guard let rows = shape.first, shape.count >= 1 else { throw DataError(file: file, "a scalar is not a data set") }
        let cols = shape.count == 1 ? 1 : shape[1...].reduce(1, *)
        var targets: [Double]? = nil
        if let lb = labels {
            let (ls, lv) = try read(lb, file: labelsFile)
            guard ls.first == rows, lv.count == rows else {
                throw DataError(file: labelsFile, "has shape \(ls), expected \(rows) labels")
            }
            targets = lv
        }
        var d = try Dataset.fillMissing(values: values, rows: rows, names: (0..<cols).map { "f\($0)" }, targets: targets,
                                        strategy: missing, statistics: statistics, file: file)
        d.labelName = labels == nil ? nil : "labels"
        return d
    }

    /// The fill values `strategy` (mean or median) computes from a features array, for use on
    /// another file (its columns are named f0, f1, …).
    public static func missingStatistics(features: UnsafeRawBufferPointer, file: String,
                                         strategy: MissingStrategy) throws(DataError) -> MissingStatistics {
        let (shape, values) = try read(features, file: file)
        guard let rows = shape.first, shape.count >= 1 else { throw DataError(file: file, "a scalar is not a data set") }
        let cols = shape.count == 1 ? 1 : shape[1...].reduce(1, *)
        return try Dataset.statistics(values: values, rows: rows, names: (0..<cols).map { "f\($0)" }, targets: nil,
                                      strategy: strategy, file: file)
    }
}
