import AICompressFormats
import ArgumentParser

/// `--shard K/N`: one process of a scale-out run over a sharded safetensors input (shared by
/// `quantize`, `prune` and `convert`; spec/sharded-runs.md). `aicompress merge` joins the parts.
struct ShardOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Sharded safetensors input: process only input shard K of N (1-based; N is the number of shard files the index names) and write the matching output shard plus a partial index; `aicompress merge OUT.index.json` then writes the index.",
        valueName: "K/N"))
    var shard: ShardArgument?

    /// The shard to process, if one was given.
    var part: ShardPart? { shard?.value }

    /// Refuses `--shard` with options it does not go with: a non-safetensors output, standard
    /// output, `--shard-size` (the output is sharded as the input is).
    func check(output: String, out: OutputOptions) throws {
        guard let part else { return }
        guard output != "-", (try? out.outputFormat(for: output)) == .safetensors else {
            throw ValidationError("--shard \(part) writes a safetensors shard: give OUT as DIR/NAME.safetensors")
        }
        if out.shardSize != nil { throw ValidationError("--shard and --shard-size do not go together: a shard run keeps the input's sharding") }
    }
}

/// `K/N` on the command line.
struct ShardArgument: ExpressibleByArgument {
    let value: ShardPart

    init?(argument: String) {
        guard let v = ShardPart(argument) else { return nil }
        value = v
    }
}
