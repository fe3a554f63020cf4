import AICompressCore

/// What every file of one sharded global pruning run agrees on: the model (its size and CRC-32
/// over the whole sharded set), the pruning options, and the number of shards. Written at the
/// head of each statistics part and threshold file (spec/sharded-runs.md §6.3).
public struct GlobalPruneRun: Sendable, Equatable {
    /// Largest options text accepted (the pass's provenance words).
    static let maxOptionsBytes = 4096
    /// Largest shard count accepted (names use five digits).
    static let maxShards = 99_999

    /// Bytes of every input file read (index and shards).
    public var inputBytes: Int
    /// CRC-32 of the index and its shards in order (the provenance `aicompress.input.crc32`).
    public var inputCRC32: UInt32
    /// The fraction kept over all selected tensors.
    public var keep: Double
    /// The pass's provenance words (`method=magnitude keep=0.3 scope=global …`): the options
    /// that change the result, selection included.
    public var options: String
    /// N.
    public var shards: Int

    /// The run for `pass` (global magnitude pruning) over an input with these `facts`.
    /// - Throws: `PassError.invalidParameter` when `pass` is not global magnitude pruning.
    public init(pass: Prune, input facts: InputFacts, shards: Int) throws {
        guard case .magnitude(let keep, .global) = pass.method else {
            throw Prune.Parameter.scope.invalid("tensor", "sharded statistics are for magnitude pruning with `scope` global")
        }
        self.init(inputBytes: facts.bytes, inputCRC32: facts.crc32, keep: keep, options: GlobalPruneRun.options(of: pass),
                  shards: shards)
    }

    /// A run from its fields.
    public init(inputBytes: Int, inputCRC32: UInt32, keep: Double, options: String, shards: Int) {
        self.inputBytes = inputBytes
        self.inputCRC32 = inputCRC32
        self.keep = keep
        self.options = options
        self.shards = shards
    }

    /// `key=value` words of the pass, space-separated.
    static func options(of pass: Prune) -> String {
        pass.parameters.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }

    /// Why `other` (read from `file`) is not a file of this run, or nil when it is: another
    /// model is an `inputDiffers`, other options an `optionsDiffer`, another N a `disagree`.
    public func mismatch(_ other: GlobalPruneRun, file: String) -> GlobalPruneError? {
        if other.inputBytes != inputBytes || other.inputCRC32 != inputCRC32 {
            return .inputDiffers(file: file, reason: "made from a model of \(other.inputBytes) bytes with CRC-32 "
                                 + hex(other.inputCRC32) + ", not this one (\(inputBytes) bytes, CRC-32 " + hex(inputCRC32) + ")")
        }
        if other.options != options || other.keep.bitPattern != keep.bitPattern {
            return .optionsDiffer(file: file, recorded: other.options, command: options)
        }
        if other.shards != shards { return .disagree(file: file, reason: "a file of \(other.shards) shards, not \(shards)") }
        return nil
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }

    /// Appends magic, round and the run's fields.
    func encode(magic: [UInt8], round: Int, into w: inout GlobalPruneBytesWriter) {
        w.bytes += magic
        w.u8(UInt8(round))
        for _ in 0..<3 { w.u8(0) }
        w.u32(UInt32(shards))
        w.u32(inputCRC32)
        w.int(inputBytes)
        w.u64(keep.bitPattern)
        let text = Array(options.utf8)
        w.u32(UInt32(text.count))
        w.bytes += text
    }

    /// Reads what `encode` wrote, checking the magic and every field's range.
    /// - Returns: the round (1 or 2) and the run.
    static func decode(magic: [UInt8], kind: String,
                       from r: inout GlobalPruneBytesReader) throws(GlobalPruneError) -> (round: Int, run: GlobalPruneRun) {
        guard Array(try r.raw(magic.count, "the magic")) == magic else {
            throw r.fail("the first 8 bytes are not '\(String(decoding: magic, as: UTF8.self))' (a \(kind))")
        }
        let round = Int(try r.u8("the round"))
        guard round == 1 || round == 2 else { throw r.fail("round \(round), not 1 or 2") }
        guard try r.raw(3, "the reserved bytes").allSatisfy({ $0 == 0 }) else { throw r.fail("reserved bytes 9-11 are not zero") }
        let shards = Int(try r.u32("the shard count"))
        guard shards >= 1, shards <= maxShards else { throw r.fail("shard count \(shards) outside 1...\(maxShards)") }
        let crc = try r.u32("the input CRC-32")
        let bytes = try r.int("the input size")
        let keep = Double(bitPattern: try r.u64("keep"))
        guard keep >= 0, keep <= 1 else { throw r.fail("keep \(keep) outside 0...1") }
        let length = Int(try r.u32("the options length"))
        guard length <= maxOptionsBytes else { throw r.fail("options of \(length) bytes, more than \(maxOptionsBytes)") }
        guard let options = String(validating: try r.raw(length, "the options"), as: UTF8.self) else {
            throw r.fail("the options are not UTF-8")
        }
        return (round, GlobalPruneRun(inputBytes: bytes, inputCRC32: crc, keep: keep, options: options, shards: shards))
    }
}
