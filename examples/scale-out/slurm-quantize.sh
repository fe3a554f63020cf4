#!/usr/bin/env bash
# One Slurm array task per input shard: task K quantizes shard K of N, then one job merges.
#   N=$(grep -o '"[^"]*-of-[0-9]*\.safetensors"' in/model.safetensors.index.json | sort -u | wc -l)
#   jid=$(sbatch --parsable --array=1-"$N" examples/scale-out/slurm-quantize.sh in/model.safetensors.index.json out)
#   sbatch --dependency=afterok:"$jid" --wrap "aicompress merge out/model.safetensors.index.json"
# IN and OUT must be on a file system every node sees; N is the array's size.
#SBATCH --job-name=aicompress-shard
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=01:00:00
set -euo pipefail
in="${1:?give the input index, e.g. in/model.safetensors.index.json}"
out="${2:?give the output folder}"
k="${SLURM_ARRAY_TASK_ID:?run me with sbatch --array=1-N}"
n="${SLURM_ARRAY_TASK_COUNT:?run me with sbatch --array=1-N}"
mkdir -p "$out"
exec aicompress quantize --int8 -q --shard "$k/$n" "$in" "$out/model.safetensors"
