// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "aicompress",
    products: [
        .executable(name: "aicompress", targets: ["aicompress"]),
        .library(name: "AICompressCore", targets: ["AICompressCore"]),
        .library(name: "AICompressFormats", targets: ["AICompressFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // zlib1g-dev: CRC32 (crc32_z / crc32_combine) and, later, deflate.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // DType, Shape, Tensor, Model, Graph, checked arithmetic, statistics. No dependencies.
        .target(name: "AICompressCore"),
        // One folder per format (reader + writer each), plus the file I/O they share.
        .target(
            name: "AICompressFormats",
            dependencies: ["AICompressCore", "CZlib"]
        ),
        .executableTarget(
            name: "aicompress",
            dependencies: [
                "AICompressCore",
                "AICompressFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "AICompressCoreTests", dependencies: ["AICompressCore"]),
        .testTarget(name: "AICompressFormatsTests", dependencies: ["AICompressCore", "AICompressFormats"]),
        .testTarget(
            name: "CLITests",
            dependencies: ["AICompressCore", "AICompressFormats", "aicompress"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
