@testable import aicompress
import XCTest

/// The report page's shortened tensor names keep the layer number and the kind.
final class ReportNameTests: XCTestCase {
    func testShortNamesKeepTheLayerNumberAndKind() {
        let cases: [(String, String)] = [
            ("fc1.weight", "fc1.weight"),
            ("model.encoder.layer.11.attention.self.query.weight", "…11.attention.self.query.weight"),
            ("model.layers.27.mlp.down_proj.weight", "model.…27.mlp.down_proj.weight"),
            ("blk.3.ffn_down.weight", "blk.3.ffn_down.weight"),
            ("transformer.h.10.attn.c_attn_with_a_very_long_kind_name.weight",
             "…10.…_a_very_long_kind_name.weight"),
        ]
        for (name, short) in cases {
            let got = ReportPage.shortName(name)
            XCTAssertEqual(got, short, name)
            XCTAssertLessThanOrEqual(got.count, 34, name)
        }
    }

    func testNamesWithoutANumberAreCutInTheMiddle() {
        let name = "encoder_attention_output_dense_projection_weight"
        let got = ReportPage.shortName(name)
        XCTAssertEqual(got, String(name.prefix(14)) + "…" + String(name.suffix(19)))
        XCTAssertEqual(got.count, 34)
    }

    func testEveryShortNameFits() {
        // A number whose tail cannot fit at all falls back to the middle cut, still 34.
        let name = "layer.1." + String(repeating: "x", count: 60)
        XCTAssertEqual(ReportPage.shortName(name).count, 34)
    }
}
