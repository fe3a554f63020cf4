import Foundation
import XCTest

/// Runs the built `aicompress` binary as a user would.
class CLITestCase: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    /// The binary sits next to the test bundle in the build products folder.
    static var binary: URL {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [products, Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("aicompress")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return products.appendingPathComponent("aicompress")
    }

    struct Result {
        let status: Int32
        let stdout: Data
        let stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `aicompress args`, feeding `stdin`.
    @discardableResult
    func run(_ args: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> Result {
        try launch(Self.binary, args, stdin: stdin, environment: environment)
    }

    /// Runs `script` with `bash -c`, for pipes, redirections and limits; `$bin` in it is the
    /// binary's path, quoted.
    @discardableResult
    func shell(_ script: String) throws -> Result {
        try launch(URL(fileURLWithPath: "/bin/bash"), ["-c", "bin='\(Self.binary.path)'; " + script])
    }

    /// Runs `executable arguments`, feeding `stdin` and collecting both outputs.
    private func launch(_ executable: URL, _ args: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        // Feed stdin and drain both pipes concurrently so large outputs cannot deadlock.
        let writer = Thread {
            if let stdin { input.fileHandleForWriting.write(stdin) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        nonisolated(unsafe) var errData = Data()
        let errReader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        errReader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while errReader.isExecuting || writer.isExecuting { usleep(1000) }
        return Result(status: p.terminationStatus, stdout: outData, stderr: String(decoding: errData, as: UTF8.self))
    }

    func fixture(_ p: String) -> String { Self.fixtures.appendingPathComponent(p).path }

    /// The JSON object `data` holds (a command's `--json` output or `--report-json` file).
    func jsonObject(_ data: Data) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The JSON object in the file at `path`.
    func jsonObject(atPath path: String) throws -> [String: Any] {
        try jsonObject(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The entry of the `tensors` array of `json` named `name`.
    func tensor(_ name: String, in json: [String: Any]) throws -> [String: Any] {
        let tensors = try XCTUnwrap(json["tensors"] as? [[String: Any]], "no tensors array")
        return try XCTUnwrap(tensors.first { $0["name"] as? String == name }, "no tensor '\(name)'")
    }

    /// The cells of the line of a text table that starts with `first`, split at white space, so
    /// a test can check a table's values without depending on its column widths.
    func tableRow(_ first: String, in text: String) -> [String]? {
        text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == first }
    }

    /// Runs `aicompress ARGUMENTS` (a shell-quoted string) on a pseudo-terminal through
    /// `script(1)`, returning what the terminal showed; skips the test without script(1).
    func runOnTerminal(_ arguments: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("no script(1)") }
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        sh.arguments = ["-qc", "'\(Self.binary.path)' \(arguments)", "/dev/null"]
        let out = Pipe()
        sh.standardOutput = out
        try sh.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        sh.waitUntilExit()
        return text
    }

    func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aicompress-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }
}
