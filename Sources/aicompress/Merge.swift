import AICompressFormats
import ArgumentParser

extension AICompress {
    /// `aicompress merge OUT/model.safetensors.index.json`: the last step of a scale-out run,
    /// joining the partial indexes that `--shard K/N` runs wrote (spec/sharded-runs.md).
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Write the index of a sharded safetensors output from the parts that --shard K/N runs wrote.",
            discussion: """
                Each `quantize`, `prune` or `convert` run with --shard K/N writes output shard K \
                (NAME-0000K-of-0000N.safetensors) and a partial index (NAME.safetensors.index.json.part-0000K-of-0000N) \
                beside it. merge checks that every part 1..N is there and agrees on N, that each names \
                its own shard, that the shard file exists with the recorded size and holds exactly the \
                recorded tensors, and that no tensor is in two parts; then it writes the index \
                atomically (the same bytes one process writes) and removes the parts. A missing part \
                or shard exits 66, an inconsistent one 65, naming the file.

                Given NAME.prune-threshold, merge joins the statistics parts that `prune --scope global \
                --shard K/N --stats` wrote (NAME.prune-threshold.part-0000K-of-0000N), one round at a time: \
                round 1 finds the critical bin of the |w| bit patterns, round 2 the exact threshold and \
                each shard's ties at it; `prune --threshold NAME.prune-threshold` then prunes each shard.

                Examples:
                  parallel aicompress quantize --int8 --shard {}/2 m.safetensors.index.json o/m.safetensors ::: 1 2
                  aicompress merge o/m.safetensors.index.json
                  aicompress merge st/m.prune-threshold
                """
        )

        @Argument(help: "The index to write, e.g. OUT/model.safetensors.index.json, or a threshold file NAME.prune-threshold.")
        var index: String

        @Flag(help: "Flush the index to the storage device before moving it into place.")
        var sync = false

        @Flag(name: .shortAndLong, help: "Print nothing on success.")
        var quiet = false

        func validate() throws {
            guard index.hasSuffix(".safetensors.index.json") || index.hasSuffix(GlobalShardRun.suffix) else {
                throw ValidationError("give the index to write, NAME.safetensors.index.json (or a threshold file, NAME\(GlobalShardRun.suffix))")
            }
        }

        func run() throws {
            if index.hasSuffix(GlobalShardRun.suffix) {
                let line = try GlobalShardRun.merge(threshold: index, durable: sync)
                if !quiet { FileHandleOutput.stderr(line + "\n") }
                return
            }
            let s = try ShardedSafetensors.merge(index: index, durable: sync)
            if !quiet {
                FileHandleOutput.stderr("\(s.index): \(s.shards) shards, \(s.tensors) tensors, \(Format.bytes(s.totalSize)) of tensor data\n")
            }
        }
    }
}
