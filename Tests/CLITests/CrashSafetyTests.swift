import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// Outputs are whole or absent: killed writers, full disks and size limits never leave a
/// truncated file where the output goes.
final class CrashSafetyTests: CLITestCase {
    /// A model large enough that writing it takes a while.
    func bigModel(in dir: String) throws -> String {
        let path = dir + "/big.ckpt"
        let count = 16 << 20  // 64 MiB of f32 per tensor
        var tensors: [Tensor] = []
        for i in 0..<4 {
            let data = ByteBuffer.build(count: count * 4) { raw in
                let f = raw.bindMemory(to: Float.self)
                for k in 0..<count { f[k] = Float((k &* 2_654_435_761 &+ i) % 1000) * 0.001 }
            }
            tensors.append(try Tensor(name: "t\(i)", dtype: .f32, shape: [count], data: TensorData(data)))
        }
        try ModelIO.write(try Model(tensors: tensors), to: path, format: .checkpoint)
        return path
    }

    /// SIGKILL in the middle of a write: the previous output stays byte-identical; never a
    /// truncated file under the output's name.
    func testKilledWriterLeavesThePreviousOutput() throws {
        let dir = try tempDir()
        let input = try bigModel(in: dir)
        let output = dir + "/out.ckpt"
        XCTAssertEqual(try run(["convert", fixture("demo/mlp-digits.ckpt"), output]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: output))
        for delay in [20_000, 80_000, 200_000] as [useconds_t] {
            let p = Process()
            p.executableURL = Self.binary
            p.arguments = ["quantize", "-q", "--int8", input, output]
            try p.run()
            usleep(delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let now = try Data(contentsOf: URL(fileURLWithPath: output))
            if p.terminationReason == .uncaughtSignal {
                XCTAssertEqual(now, before, "killed after \(delay) µs: the previous output is intact")
            }
            // Whatever happened, the file under the output's name is a whole checkpoint.
            XCTAssertEqual(try run(["verify", "-q", output]).status, 0)
        }
        // Leftover temporary files are hidden (".out.ckpt.tmp-PID-N") and never the output itself.
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name != "out.ckpt" && name != "big.ckpt" {
            XCTAssertTrue(name.hasPrefix(".out.ckpt.tmp-"), name)
        }
    }

    /// A full device (/dev/full as standard output) is an I/O error with exit code 74.
    func testFullDeviceIsAnIOError() throws {
        let r = try shell("\"$bin\" convert '\(fixture("demo/mlp-digits.ckpt"))' - > /dev/full")
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertEqual(r.stderr, "aicompress: error: <stdout>: write failed: No space left on device\n")
    }

    /// A file-size limit hit mid-write (as a full disk would) leaves no output and no
    /// temporary file.
    func testSizeLimitLeavesNoPartialFile() throws {
        let dir = try tempDir()
        let input = try bigModel(in: dir)
        let r = try shell("ulimit -f 20000; \"$bin\" convert '\(input)' '\(dir)/out.ckpt'")
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("write failed: File too large"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["big.ckpt"])
    }

    /// The input file is never modified, whatever the command.
    func testInputIsNeverModified() throws {
        let dir = try tempDir()
        let input = dir + "/m.onnx"
        try FileManager.default.copyItem(atPath: fixture("onnx/mlp.onnx"), toPath: input)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        _ = try run(["quantize", "-q", "--int8", input, dir + "/q.onnx"])
        _ = try run(["prune", "-q", "--keep", "0.5", input, dir + "/p.ckpt"])
        _ = try run(["convert", input, input])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), before)
    }
}
