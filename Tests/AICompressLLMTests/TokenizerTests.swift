import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// The tokenizer against llama.cpp's own test files: `models/ggml-vocab-*.gguf` (vocabulary-only
/// GGUF files) with `*.gguf.inp` (test strings) and `*.gguf.out` (llama.cpp's token ids, no
/// BOS), from the llama.cpp tree in the llama-cpp-python sdist that scripts/llama-cpp.sh
/// caches. The files are large (up to 8 MB each), so they are read from the cache, not
/// committed; without the cache these tests are skipped (the llm_eval interop lane, which CI
/// runs whenever llama.cpp is built, runs them with AICOMPRESS_LLAMA_VOCAB set).
final class TokenizerTests: XCTestCase {
    static var vocabDirectory: String? {
        let env = ProcessInfo.processInfo.environment
        if let d = env["AICOMPRESS_LLAMA_VOCAB"] { return d }
        let cache = env["AICOMPRESS_CACHE"] ?? (NSHomeDirectory() + "/.cache/aicompress")
        let d = cache + "/llama.cpp-0.3.36/src/llama_cpp_python-0.3.36/vendor/llama.cpp/models"
        return FileManager.default.fileExists(atPath: d) ? d : nil
    }

    /// The cases of an .inp/.out pair: each test string and its ids.
    static func cases(_ base: String) throws -> [(text: [UInt8], ids: [Int32])] {
        let sep = Array("\n__ggml_vocab_test__\n".utf8)
        func parts(_ data: [UInt8]) -> [[UInt8]] {
            var out = [[UInt8]](), start = 0, i = 0
            while i + sep.count <= data.count {
                if data[i..<(i + sep.count)].elementsEqual(sep) {
                    out.append(Array(data[start..<i]))
                    i += sep.count
                    start = i
                } else { i += 1 }
            }
            return out
        }
        let inp = parts(Array(try Data(contentsOf: URL(fileURLWithPath: base + ".inp"))))
        let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: base + ".out")), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
        return inp.enumerated().map { i, text in
            (text, i < lines.count ? lines[i].split(separator: " ").compactMap { Int32($0) } : [])
        }
    }

    func check(_ name: String, minimum: Int) throws {
        guard let dir = TokenizerTests.vocabDirectory else { throw XCTSkip("no llama.cpp models/ folder (run scripts/llama-cpp.sh)") }
        let base = dir + "/ggml-vocab-\(name).gguf"
        let loaded = try ModelIO.read(path: base)
        let vocab = try Vocabulary(gguf: GGUFMetadataTable(try GGUFModelMetadata.pairs(loaded.model.metadata)))
        let tok = Tokenizer(vocab)
        let cases = try TokenizerTests.cases(base)
        XCTAssertGreaterThanOrEqual(cases.count, minimum)
        var failures = 0
        for c in cases {
            let got = try tok.tokenize(c.text, addSpecial: false)
            if got != c.ids {
                failures += 1
                if failures <= 3 { XCTFail("\(name): \(String(decoding: c.text, as: UTF8.self).debugDescription): \(got) != \(c.ids)") }
            }
        }
        XCTAssertEqual(failures, 0, "\(name): \(failures) of \(cases.count) strings differ from llama.cpp")
    }

    func testLlamaSentencePiece() throws { try check("llama-spm", minimum: 30) }
    func testPhi3SentencePiece() throws { try check("phi-3", minimum: 30) }
    func testLlama3BytePairs() throws { try check("llama-bpe", minimum: 30) }
    func testQwen2BytePairs() throws { try check("qwen2", minimum: 30) }
    func testGPT2BytePairs() throws { try check("gpt-2", minimum: 30) }
    func testMPTBytePairs() throws { try check("mpt", minimum: 30) }
    func testStarCoderBytePairs() throws { try check("starcoder", minimum: 30) }
    func testRefactBytePairs() throws { try check("refact", minimum: 30) }
}
