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
        let p = Process()
        p.executableURL = Self.binary
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
