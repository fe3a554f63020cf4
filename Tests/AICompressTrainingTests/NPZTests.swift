import AICompressCore
@testable import AICompressTraining
import XCTest

/// .npz archives (stored zip members of .npy arrays): exact values of every kind, and one
/// malformed archive per refusal. numpy's own np.savez output is read in the executor lane.
final class NPZTests: XCTestCase {
    /// An .npy file (version 1) of `descr` and `shape` around raw little-endian `data`.
    static func npy(_ descr: String, _ shape: [Int], _ data: [UInt8]) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let n = header.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + data
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// A zip of stored members (CRC left 0: the reader does not check it), with knobs to damage it.
    static func zip(_ members: [(String, [UInt8])], method: UInt16 = 0, flags: UInt16 = 0, localOffsetShift: UInt32 = 0) -> [UInt8] {
        var out = [UInt8](), central = [UInt8]()
        for (name, data) in members {
            let offset = UInt32(out.count)
            let nm = Array(name.utf8)
            out += le(UInt32(0x0403_4B50)) + le(UInt16(20)) + le(flags) + le(method) + le(UInt32(0)) + le(UInt32(0))
            out += le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(nm.count)) + le(UInt16(0)) + nm + data
            central += le(UInt32(0x0201_4B50)) + le(UInt16(20)) + le(UInt16(20)) + le(flags) + le(method) + le(UInt32(0)) + le(UInt32(0))
            central += le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(nm.count)) + le(UInt16(0)) + le(UInt16(0))
            central += le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(offset &+ localOffsetShift) + nm
        }
        let cdOffset = UInt32(out.count)
        out += central
        out += le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(members.count)) + le(UInt16(members.count))
        out += le(UInt32(central.count)) + le(cdOffset) + le(UInt16(0))
        return out
    }

    func read(_ bytes: [UInt8]) throws -> [(name: String, array: NDArray)] {
        try bytes.withUnsafeBytes { b in try NPZ.read(b, file: "t.npz") }
    }

    func refusal(_ bytes: [UInt8]) -> String {
        do { _ = try read(bytes); return "no error" } catch { return "\(error)" }
    }

    func testValuesOfEveryKindAreExact() throws {
        let big: Int64 = (1 << 53) + 1  // not representable in a Double
        let ids = Self.npy("<i8", [2, 2], [big, -3, 0, Int64.max].flatMap { Self.le($0) })
        let mask = Self.npy("|b1", [2, 2], [1, 0, 0, 1])
        let x = Self.npy("<f4", [3], [Float(0.5), -1.25, 3].flatMap { Self.le($0.bitPattern) })
        let small = Self.npy("<i4", [1], Self.le(Int32(-7)))
        let arrays = try read(Self.zip([("input_ids.npy", ids), ("attention_mask.npy", mask), ("x.npy", x), ("n.npy", small)]))
        XCTAssertEqual(arrays.map(\.name), ["input_ids", "attention_mask", "x", "n"])
        XCTAssertEqual(arrays[0].array, NDArray(shape: [2, 2], ints: [big, -3, 0, Int64.max]))
        XCTAssertEqual(arrays[1].array, NDArray(shape: [2, 2], ints: [1, 0, 0, 1], kind: .bool))
        XCTAssertEqual(arrays[2].array, NDArray(shape: [3], floats: [0.5, -1.25, 3]))
        XCTAssertEqual(arrays[3].array, NDArray(shape: [1], ints: [-7]))
        XCTAssertTrue(Self.zip([]).withUnsafeBytes { NPZ.sniff($0) } == false)
        XCTAssertTrue(Self.zip([("a.npy", small)]).withUnsafeBytes { NPZ.sniff($0) })
    }

    func testMalformedArchivesAreRefusedByName() {
        let ok = Self.npy("<i8", [1], Self.le(Int64(1)))
        XCTAssertEqual(refusal([0x50, 0x4B, 3, 4]), "t.npz: not a valid .npz archive: shorter than an end-of-directory record")
        XCTAssertEqual(refusal([UInt8](repeating: 7, count: 40)), "t.npz: not a valid .npz archive: no end-of-central-directory record")
        XCTAssertEqual(refusal(Self.zip([("a.npy", ok)], method: 8)),
                       "t.npz: member 'a.npy' is compressed (method 8); only stored members are read: save with np.savez, not np.savez_compressed")
        XCTAssertEqual(refusal(Self.zip([("a.npy", ok)], flags: 1)), "t.npz: not a valid .npz archive: member 'a.npy' is encrypted")
        XCTAssertEqual(refusal(Self.zip([("a.txt", ok)])), "t.npz: not a valid .npz archive: member 'a.txt' is not an .npy file")
        XCTAssertEqual(refusal(Self.zip([("a.npy", ok)], localOffsetShift: 1 << 20)),
                       "t.npz: not a valid .npz archive: member 'a.npy': no local header at offset 1048576")
        XCTAssertEqual(refusal(Self.zip([("a.npy", ok), ("a.npy", ok)])), "t.npz: not a valid .npz archive: member 'a.npy' appears twice")
        var cut = Self.zip([("a.npy", ok)])
        cut[cut.count - 6] = 0xFF  // central directory offset far beyond the file
        XCTAssertEqual(refusal(cut), "t.npz: not a valid .npz archive: central directory lies outside the file")
        var bad = ok
        bad[1] = 0x41  // not NUMPY
        XCTAssertEqual(refusal(Self.zip([("a.npy", bad)])), "t.npz:a.npy: not a valid .npy file: bad magic")
        let short = Array(ok.dropLast(3))
        XCTAssertEqual(refusal(Self.zip([("a.npy", short)])),
                       "t.npz:a.npy: not a valid .npy file: data holds 5 bytes, shape [1] of <i8 needs 8")
    }

    /// The executor's feeds: every graph input gets one array of its kind, rows agree.
    func testGraphFeedsCheckNamesKindsAndRows() throws {
        let g = Graph(name: "g", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: "ids", elemType: 7, shape: [.symbolic("B"), .fixed(2)]),
                               ValueInfo(name: "x", elemType: 1, shape: [.symbolic("B")])],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                      nodes: [Node(name: "c", opType: "Cast", inputs: ["ids"], outputs: ["f"], attributes: [Attribute(name: "to", value: .int(1))]),
                              Node(name: "r", opType: "ReduceSum", inputs: ["f"], outputs: ["s"], attributes: [Attribute(name: "keepdims", value: .int(0))]),
                              Node(name: "a", opType: "Add", inputs: ["s", "x"], outputs: ["y"])])
        let net = try Network(model: try Model(tensors: [], graph: g))
        let ids = NDArray(shape: [3, 2], floats: [1, 2, 3, 4, 5, 6]), x = NDArray(shape: [3], ints: [10, 20, 30])
        let feeds = try GraphFeeds([("ids", ids), ("x", x)], network: net, source: "d.npz")
        XCTAssertEqual(feeds.rows, 3)
        XCTAssertEqual(feeds.arrays["ids"], NDArray(shape: [3, 2], ints: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(feeds.arrays["x"], NDArray(shape: [3], floats: [10, 20, 30]))
        // ReduceSum without axes sums the whole batch: 3 + 4 + 5 + 6 = 18, plus x
        XCTAssertEqual(try net.predict(feeds.batch(1..<3))["y"], NDArray(shape: [2], floats: [38, 48]))
        func refusal(_ named: [(name: String, array: NDArray)]) -> String {
            do { _ = try GraphFeeds(named, network: net, source: "d.npz"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal([("ids", ids)]), "d.npz: no arrays for input 'x' (the model's inputs: ids, x)")
        XCTAssertEqual(refusal([("ids", ids), ("x", x), ("z", x)]), "d.npz: the model has no input 'z' (inputs: ids, x)")
        XCTAssertEqual(refusal([("ids", ids), ("x", NDArray(shape: [2], ints: [1, 2]))]), "d.npz: input 'x' has 2 rows, the others 3")
        XCTAssertEqual(refusal([("ids", NDArray(shape: [1, 2], floats: [1, 2.5])), ("x", NDArray(shape: [1], ints: [1]))]),
                       "d.npz: input 'ids' takes integers, value 1 is 2.5")
        XCTAssertEqual(refusal([("ids", NDArray(shape: [3, 3], floats: [Float](repeating: 1, count: 9))), ("x", x)]),
                       "d.npz: input 'ids' has shape [3, 3], the model takes [B, 2] int64")
    }

    /// A model with several missing ops is refused once, naming each with its node count.
    func testEveryMissingOpIsListedAtOnce() throws {
        let g = Graph(name: "g", opsets: [OpsetImport(domain: "", version: 17)], inputs: [ValueInfo(name: "x", elemType: 1, shape: [.fixed(1)])],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                      nodes: [Node(name: "a", opType: "Loop", inputs: ["x"], outputs: ["p"]), Node(name: "b", opType: "Relu", inputs: ["p"], outputs: ["q"]),
                              Node(name: "c", opType: "Loop", inputs: ["q"], outputs: ["r"]),
                              Node(name: "d", opType: "Foo", domain: "com.example", inputs: ["r"], outputs: ["y"])])
        XCTAssertThrowsError(try Network(model: try Model(tensors: [], graph: g))) {
            XCTAssertEqual("\($0)", "2 ops in 3 nodes are not supported by the executor: Loop (2 nodes, first 'a'), com.example.Foo (node 'd')")
        }
    }
}
