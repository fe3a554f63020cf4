#!/usr/bin/env python3
"""Writes a sharded bf16 safetensors model with LLaMA-like names and shapes, of about SIZE_GIB
GiB, for the larger-than-memory benchmark (scripts/bench-larger-than-ram.sh):
OUT_DIR/model-0000K-of-0000N.safetensors (at most 4 GiB each) and model.safetensors.index.json.
Layers of hidden 4096, MLP 11008, 32 heads (LLaMA-7B's shapes); as many layers as fit SIZE_GIB.

The values are normally distributed (numpy default_rng(0), scale 0.02), generated once as a 64 MiB
block that every tensor reads from at its own offset, so making 32 GiB costs about the time of
writing it and little memory. Deterministic. Usage: make-bench-llama.py OUT_DIR SIZE_GIB"""
import json
import os
import struct
import sys

import numpy as np

out_dir, size_gib = sys.argv[1], float(sys.argv[2])
hidden, mlp, vocab = 4096, 11008, 32000
layer = [("self_attn.q_proj.weight", (hidden, hidden)), ("self_attn.k_proj.weight", (hidden, hidden)),
         ("self_attn.v_proj.weight", (hidden, hidden)), ("self_attn.o_proj.weight", (hidden, hidden)),
         ("mlp.gate_proj.weight", (mlp, hidden)), ("mlp.up_proj.weight", (mlp, hidden)),
         ("mlp.down_proj.weight", (hidden, mlp)), ("input_layernorm.weight", (hidden,)),
         ("post_attention_layernorm.weight", (hidden,))]
per_layer = sum(int(np.prod(s)) for _, s in layer) * 2
edges = (2 * vocab * hidden + hidden) * 2
layers = max(1, int((size_gib * (1 << 30) - edges) // per_layer))
tensors = [("model.embed_tokens.weight", (vocab, hidden))]
for i in range(layers):
    tensors += [(f"model.layers.{i}.{n}", s) for n, s in layer]
tensors += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]

rng = np.random.default_rng(0)
block_elems = 32 << 20
f32 = (rng.standard_normal(block_elems, dtype=np.float32) * np.float32(0.02))
block = (f32.view(np.uint32) >> 16).astype("<u2")  # bf16 by truncation
del f32

shard_limit = 4 << 30
shards, current, size = [], [], 0
for name, shape in tensors:
    n = int(np.prod(shape)) * 2
    if current and size + n > shard_limit:
        shards.append(current)
        current, size = [], 0
    current.append((name, shape, n))
    size += n
shards.append(current)
os.makedirs(out_dir, exist_ok=True)
count = len(shards)
weight_map, total, cursor = {}, 0, 0
for k, group in enumerate(shards, 1):
    file = f"model-{k:05d}-of-{count:05d}.safetensors"
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, n in group:
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
        weight_map[name] = file
        total += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(out_dir, file), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape, n in group:
            elems, done = n // 2, 0
            while done < elems:
                start = cursor % block_elems
                take = min(elems - done, block_elems - start)
                f.write(block[start:start + take].tobytes())
                done += take
                cursor += take
            cursor += 7919  # each tensor starts elsewhere in the block
with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
print(f"{layers} layers, {len(tensors)} tensors, {total / (1 << 30):.2f} GiB in {count} shards")
