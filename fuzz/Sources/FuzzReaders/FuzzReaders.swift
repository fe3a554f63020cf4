#if canImport(Glibc)
import Glibc
#endif
import AICompressCore
import AICompressFormats
import AICompressPasses
import AICompressTraining

// One libFuzzer binary for every reader; AICOMPRESS_FUZZ_TARGET picks one:
//   ckpt         CheckpointReader, CRC-32 checks off so mutations reach the index parser
//   ckpt-crc     CheckpointReader as shipped (checksums on)
//   onnx         ONNXReader (protobuf-c behind the wire-level checks), from the bytes
//   safetensors  SafetensorsReader
//   json         JSONParser (safetensors headers and sharded indexes)
//   csv          Dataset.readCSV with every missing-value strategy, other delimiters, chosen columns
//   npy          NPY.read
//   gguf         GGUFReader, then every tensor dequantized and the file written back; the split-set
//                checks (GGUFSplitReader) with the file as every shard
//   prune-stats  GlobalPruneStatistics and GlobalPruneThreshold (sharded global pruning's
//                part and threshold files), each read back after a re-encode
//   exec         ONNX model → Network → one forward pass of a zero row (hostile graphs:
//                huge pads, shapes, indices must be refused, not allocated)
// Every input must end in a thrown error or a model: a crash, a hang (-timeout) or a huge
// allocation (-rss_limit_mb, -malloc_limit_mb) is a finding.

let target: String = {
    guard let p = getenv("AICOMPRESS_FUZZ_TARGET") else { return "ckpt" }
    return String(cString: p)
}()

func runOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let buffer = ByteBuffer.copying(bytes)
    switch target {
    case "ckpt":
        if let (model, _) = try? CheckpointReader.read(buffer, verifyChecksums: false) {
            for t in model.tensors { _ = t.statistics() }
        }
    case "ckpt-crc":
        _ = try? CheckpointReader.read(buffer)
    case "onnx":
        // From bytes: external data has no folder to come from (externalDataFromStdin).
        if let (model, _) = try? ONNXReader.read(buffer, sideFiles: NoSideFiles()) {
            for t in model.tensors { _ = t.statistics() }
        }
    case "safetensors":
        if let (model, _) = try? SafetensorsReader.read(buffer) {
            for t in model.tensors { _ = t.statistics() }
        }
    case "json":
        _ = try? JSONParser.parse(bytes)
    case "csv":
        for m in MissingStrategy.allCases {
            _ = try? Dataset.readCSV(Array(bytes), file: "fuzz.csv", label: .auto, missing: m)
        }
        // other delimiters (tab is also a blank), chosen columns, text labels
        for (d, features) in [(UInt8(0x3B), FeatureSelection.dropping([.index(0)])), (0x09, .only([.index(-1), .name("a")]))] {
            var o = CSVOptions(missing: .mean)
            o.delimiter = d
            o.features = features
            o.textLabels = true
            _ = try? Dataset.readCSV(Array(bytes), file: "fuzz.csv", options: o)
        }
    case "npy":
        _ = try? NPY.read(Array(bytes), file: "fuzz.npy")
    case "gguf":
        if let file = try? GGUFReader.read(buffer) {
            for t in file.tensors { _ = t.data.withUnsafeBytes { try? t.info.type.dequantize(Array($0)) } }
            var sink = MemorySink()
            try? GGUFWriter.write(file, to: &sink)
            // The split checks, with this file standing in for every shard of its set.
            let info = try? GGUFSplitReader.info(file, path: "fuzz.gguf")
            let name = info.map { GGUFSplit.name(prefix: "fuzz", number: $0.number, count: $0.count) } ?? "fuzz.gguf"
            _ = try? GGUFSplitReader.assemble(given: file, path: name) { shard, _, _ in GGUFSplitReader.Shard(path: shard, file: file) }
        }
    case "prune-stats":
        let array = Array(bytes)
        if let s = try? GlobalPruneStatistics(decoding: array, file: "fuzz") {
            guard (try? GlobalPruneStatistics(decoding: s.encoded(), file: "fuzz")) == s else { fatalError("part round trip") }
        }
        if let t = try? GlobalPruneThreshold(decoding: array, file: "fuzz") {
            guard (try? GlobalPruneThreshold(decoding: t.encoded(), file: "fuzz")) == t else { fatalError("threshold round trip") }
            for k in 1...t.shards.count { _ = t.tieBudget(shard: k) }
        }
    case "exec":
        // Outputs of at most 2^20 elements: a graph that legitimately upsamples to 2^28 would take
        // longer than the 5 s per input of a debug build, which is not a finding.
        if let (model, _) = try? ONNXReader.read(buffer, sideFiles: NoSideFiles()), var net = try? Network(model: model),
           let task = try? { net.elementLimit = 1 << 20; return try ModelTask(network: net) }() {
            let zero = Dataset(featureNames: (0..<task.featureCount).map { "f\($0)" },
                               features: [Float](repeating: 0, count: task.featureCount), rows: 1)
            _ = try? task.predict(zero)
        }
    default:
        print("unknown AICOMPRESS_FUZZ_TARGET \(target)")
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { runOne(data, size) }

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// SwiftPM links executables with main = <Module>_main; hand control to libFuzzer's driver.
@_cdecl("FuzzReaders_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { runOne($0, $1) }
}
