#!/usr/bin/env python3
"""Writes a LLaMA-shaped random-weight GGUF model for scripts/bench-gguf.sh.

Usage: make-bench-gguf.py OUT.gguf LAYERS {f32,f16} [VOCAB [EMBD FF HEADS KV_HEADS]]     (pip install gguf numpy)

TinyLlama-1.1B's shapes (embedding 2048, feed-forward 5632, 32 heads, 4 kv heads, vocab 32000,
separate output.weight; VOCAB, default 32000, makes a smaller model, and EMBD FF HEADS KV_HEADS
other shapes) with LAYERS blocks and llama.cpp's tensor names, so llama-quantize's
Q4_K_M rules apply as they would to a real model. 2-D weights are N(0, 0.02) in the dtype given
(norms stay F32, as llama.cpp's converter writes them); a 32000-piece SentencePiece-style
vocabulary makes the metadata as long as a real model's. Deterministic (a seed per tensor).
Tensors are generated and written one at a time, so the maker holds one tensor in memory.
Sizes: 8 layers in F16 are about 0.97 GB, 3 layers in F32 about 1.08 GB.
"""
import sys

import numpy as np

try:
    import gguf
except ImportError:
    sys.exit("make-bench-gguf.py needs gguf-py: pip install gguf numpy")

N_EMBD, N_FF, N_HEAD, N_HEAD_KV, N_CTX = 2048, 5632, 32, 4, 2048
VOCAB = 32000


def shapes(layers):
    """(name, row-major [out, in] shape) of every tensor, in llama.cpp's converter order."""
    kv = N_HEAD_KV * (N_EMBD // N_HEAD)
    out = [("token_embd.weight", (VOCAB, N_EMBD))]
    for i in range(layers):
        b = f"blk.{i}."
        out += [(b + "attn_norm.weight", (N_EMBD,)), (b + "attn_q.weight", (N_EMBD, N_EMBD)),
                (b + "attn_k.weight", (kv, N_EMBD)), (b + "attn_v.weight", (kv, N_EMBD)),
                (b + "attn_output.weight", (N_EMBD, N_EMBD)), (b + "ffn_norm.weight", (N_EMBD,)),
                (b + "ffn_gate.weight", (N_FF, N_EMBD)), (b + "ffn_up.weight", (N_FF, N_EMBD)),
                (b + "ffn_down.weight", (N_EMBD, N_FF))]
    return out + [("output_norm.weight", (N_EMBD,)), ("output.weight", (VOCAB, N_EMBD))]


def value(index, shape, f16):
    if len(shape) == 1:
        return np.ones(shape, np.float32)
    rng = np.random.default_rng(1000 + index)
    x = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    return x.astype(np.float16) if f16 else x


def main():
    global VOCAB, N_EMBD, N_FF, N_HEAD, N_HEAD_KV
    if len(sys.argv) not in (4, 5, 9) or sys.argv[3] not in ("f32", "f16"):
        sys.exit(__doc__.split("\n\n")[1])
    if len(sys.argv) >= 5:
        VOCAB = int(sys.argv[4])
    if len(sys.argv) == 9:
        N_EMBD, N_FF, N_HEAD, N_HEAD_KV = (int(a) for a in sys.argv[5:9])
    path, layers, f16 = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "f16"
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("bench-llama")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(layers)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_vocab_size(VOCAB)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581t{i}" for i in range(VOCAB - len(tokens))]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    types += [gguf.TokenType.NORMAL] * (VOCAB - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([-float(i) for i in range(VOCAB)])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    table = shapes(layers)
    for name, shape in table:
        dtype = np.float16 if f16 and len(shape) == 2 else np.float32
        w.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for i, (_, shape) in enumerate(table):
        w.write_tensor_data(value(i, shape, f16))
    w.close()


if __name__ == "__main__":
    main()
