// swift-tools-version:6.0
// libFuzzer harness for aicompress's readers. Not part of the main package (it needs
// -sanitize=fuzzer); build and run it with scripts/fuzz.sh.
import PackageDescription

let package = Package(
    name: "aicompress-fuzz",
    dependencies: [.package(name: "aicompress", path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzReaders",
            dependencies: [
                .product(name: "AICompressCore", package: "aicompress"),
                .product(name: "AICompressFormats", package: "aicompress"),
                .product(name: "AICompressPasses", package: "aicompress"),
                .product(name: "AICompressTraining", package: "aicompress"),
            ]
        ),
    ]
)
