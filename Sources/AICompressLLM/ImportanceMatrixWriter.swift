import AICompressCore
import AICompressFormats

/// llama.cpp's GGUF importance-matrix file (what llama-imatrix writes and llama-quantize
/// --imatrix reads; tools/imatrix/imatrix.cpp `save_imatrix`): `general.type` "imatrix",
/// `imatrix.datasets` (the calibration files), `imatrix.chunk_count`, `imatrix.chunk_size`, and
/// per weight `NAME.in_sum2` (f32, one per input column) and `NAME.counts` (f32, one value).
public enum ImportanceMatrixWriter {
    /// The file's bytes for `collector`'s statistics gathered on `datasets`.
    /// - Throws: `GGUFError` (not for well-formed statistics).
    public static func encode(_ collector: ImportanceCollector, datasets: [String]) throws -> [UInt8] {
        try encode(collector.entries, datasets: datasets,
                   chunkCount: collector.chunks, chunkSize: collector.chunkSize)
    }

    /// The file's bytes for `entries` (per weight: Σx² per input column and the rows counted)
    /// gathered on `datasets` in `chunkCount` chunks of `chunkSize` rows (a graph model's
    /// batches: `GraphImportance`).
    public static func encode(_ entries: [(name: String, sums: [Float], count: Int)], datasets: [String],
                              chunkCount: Int, chunkSize: Int) throws -> [UInt8] {
        let metadata = [
            GGUFKeyValue("general.type", .string(GGUFString("imatrix"))),
            GGUFKeyValue("imatrix.datasets", .array(GGUFArray(strings: datasets))),
            GGUFKeyValue("imatrix.chunk_count", .uint32(UInt32(clamping: chunkCount))),
            GGUFKeyValue("imatrix.chunk_size", .uint32(UInt32(clamping: chunkSize))),
        ]
        var tensors: [(name: String, type: GGMLType, shape: [Int], data: TensorData)] = []
        for e in entries {
            tensors.append((e.name + ".in_sum2", .f32, [e.sums.count], floats(e.sums)))
            tensors.append((e.name + ".counts", .f32, [1], floats([Float(e.count)])))
        }
        var sink = MemorySink()
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: &sink)
        return sink.bytes
    }

    static func floats(_ v: [Float]) -> TensorData {
        var bytes = [UInt8]()
        bytes.reserveCapacity(4 * v.count)
        for f in v { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return TensorData(bytes: bytes)
    }
}
