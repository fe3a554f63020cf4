#!/usr/bin/env python3
"""Hugging Face LLaMA checkpoints to GGUF, judged by llama.cpp and by an independent numpy model.

Usage: hf_llama.py [BIN] [--keep]   (BIN default .build/debug/aicompress)

Makes the checkpoints of fixtures/llm/make_hf_llama.py (an F32 single-file LlamaForCausalLM, a
tied-embedding BF16 one in two shards, and an F16 Qwen2ForCausalLM with q/k/v biases), then for
each:
  - `BIN convert CHECKPOINT out.gguf`; gguf-py reads it: llama.cpp's tensor names and shapes, no
    output.weight when tied, the architecture keys equal to config.json, every tensor's values
    equal to the checkpoint's, for llama attn_q/attn_k equal to the checkpoint's rows permuted by
    the converter's formula (numpy here, not our code);
  - llama-tokenize gives the same ids as `tokenizers` on the text (so tokenizer.ggml.pre and the
    merges are right);
  - llama-perplexity's PPL equals that of a numpy forward pass of the Hugging Face model
    (rotate_half rope, GQA, SwiGLU, RMSNorm, biases, in float64) within 1%; and for llama the same
    numpy model with llama.cpp's interleaved rope on the unpermuted rows (what a converter that
    forgot the permutation would make llama.cpp compute) is more than 5% away, so the check can
    fail;
  - `BIN quantize --gguf Q4_K_M CHECKPOINT` against `llama-quantize out.gguf Q4_K_M`: the same
    per-tensor types, the same bytes, and a mean KL divergence against the float model
    (llama-perplexity --kl-divergence) no higher.
  - `BIN evaluate FOLDER --text` runs the checkpoint itself: its PPL equals that of `BIN evaluate`
    on the converted GGUF and on the GGUF converted from an F32 copy within 0.1%, llama-perplexity's and the numpy
    model's within 1%, the same token count as `tokenizers`; `--compare` across the two paths
    (either way round) finds identical token ids and logits (mean KLD < 1e-5, same top token 100%);
    config.json features the decoder does not run (rope scaling llama3/yarn, another activation,
    partial rotary, a sliding window shorter than the context) and missing side files exit 65
    with one line naming config.json and the key.
And the refusals: an unmapped architecture, and no tokenizer.json, exit 65 with one line; without
config.json the names are kept. llama.cpp's own convert_hf_to_gguf.py needs torch: run against
it only when torch imports (SKIP line otherwise).
AICOMPRESS_SKIP_LLAMA=1 skips the lane.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

from common import Report, scratch_folder
from llama_cpp import PPL_ARGS, ROOT, compare, llama_quantize, perplexity, start_lane, type_counts

# numpy scores what llama-perplexity scores with llama_cpp.PPL_ARGS (-c 128 --chunks 16)
N_CTX, CHUNKS = int(PPL_ARGS[PPL_ARGS.index("-c") + 1]), int(PPL_ARGS[PPL_ARGS.index("--chunks") + 1])


def load_safetensors(folder):
    """{name: float64 array} of a checkpoint folder (single file or index), F32/F16/BF16 decoded here."""
    index = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    out = {}
    for name in files:
        raw = open(os.path.join(folder, name), "rb").read()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])
        base = 8 + n
        for k, v in header.items():
            if k == "__metadata__":
                continue
            b, e = v["data_offsets"]
            data = raw[base + b:base + e]
            if v["dtype"] == "F32":
                a = np.frombuffer(data, np.float32)
            elif v["dtype"] == "F16":
                a = np.frombuffer(data, np.float16)
            elif v["dtype"] == "BF16":
                a = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                raise ValueError(f"{k}: dtype {v['dtype']}")
            out[k] = a.reshape(v["shape"]).astype(np.float64)
    return out


def permute(w, heads):
    """convert_hf_to_gguf.py's LlamaModel.permute, in numpy."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
              "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def gguf_name(hf):
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if hf in fixed:
        return fixed[hf]
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)", hf)
    return f"blk.{m.group(1)}.{GGUF_NAMES[m.group(2)]}.{m.group(3)}"


def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps) * w


def forward(W, cfg, tokens, interleaved=False):
    """Logits [T, vocab] of the Hugging Face LLaMA forward pass (float64). `interleaved` applies
    rope to adjacent pairs instead of halves: llama.cpp's rope on unpermuted q/k rows."""
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg["hidden_size"]
    hd, eps, T = d // H, cfg["rms_norm_eps"], len(tokens)
    ang = np.arange(T)[:, None] * cfg["rope_theta"] ** (-np.arange(0, hd, 2) / hd)[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rope(q):
        a, b = (q[..., 0::2], q[..., 1::2]) if interleaved else (q[..., :hd // 2], q[..., hd // 2:])
        ra, rb = a * cos - b * sin, b * cos + a * sin
        if not interleaved:
            return np.concatenate([ra, rb], -1)
        out = np.empty_like(q)
        out[..., 0::2], out[..., 1::2] = ra, rb
        return out

    x = W["model.embed_tokens.weight"][tokens]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        def proj(name):
            return h @ W[p + name + ".weight"].T + W.get(p + name + ".bias", 0)
        q = rope(proj("self_attn.q_proj").reshape(T, H, hd))
        k = np.repeat(rope(proj("self_attn.k_proj").reshape(T, KV, hd)), H // KV, axis=1)
        v = np.repeat(proj("self_attn.v_proj").reshape(T, KV, hd), H // KV, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        x = x + np.einsum("hts,shd->thd", s, v).reshape(T, H * hd) @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], eps)
    return x @ W.get("lm_head.weight", W["model.embed_tokens.weight"]).T


def numpy_ppl(W, cfg, tokens, bos, interleaved=False):
    """llama-perplexity's procedure: chunks of N_CTX from a fresh context, the first token set to
    BOS (when the tokenizer adds one), the second half of each chunk scored."""
    nll, first = [], N_CTX // 2
    for c in range(min(CHUNKS, len(tokens) // N_CTX)):
        t = np.array(tokens[c * N_CTX:(c + 1) * N_CTX])
        if bos is not None:
            t[0] = bos
        z = forward(W, cfg, t, interleaved)
        z = z - z.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        nll += [-logp[j, t[j + 1]] for j in range(first, N_CTX - 1)]
    return float(np.exp(np.mean(nll)))


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def check_file(rep, label, path, W, cfg):
    """Names, keys and values of our GGUF against the checkpoint (gguf-py)."""
    import gguf
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    expected = {gguf_name(n) for n in W}
    rep.check(set(tensors) == expected, f"{label}: llama.cpp tensor names",
              f"only ours {sorted(set(tensors) - expected)[:3]}, missing {sorted(expected - set(tensors))[:3]}"
              if set(tensors) != expected else f"{len(tensors)} tensors" + ("" if "lm_head.weight" in W else ", no output.weight (tied)"))
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    qwen = cfg["architectures"] == ["Qwen2ForCausalLM"]
    bad = []
    for hf, w in W.items():
        t = tensors.get(gguf_name(hf))
        if t is None:
            continue
        got = np.array(gguf.dequantize(t.data, t.tensor_type), np.float64).reshape(w.shape)
        want = w if qwen else permute(w, H) if ".q_proj." in hf else permute(w, KV) if ".k_proj." in hf else w
        if not np.array_equal(got, want):
            bad.append(hf)
    rep.check(not bad, f"{label}: every tensor's values equal the checkpoint's" + ("" if qwen else " (q/k permuted by the converter's formula)"),
              f"differ: {bad[:3]}" if bad else "")
    def field(key):
        f = reader.get_field(key)
        return None if f is None else f.contents()
    a = "qwen2" if qwen else "llama"
    want = {"general.architecture": a, f"{a}.block_count": cfg["num_hidden_layers"],
            f"{a}.context_length": cfg["max_position_embeddings"], f"{a}.embedding_length": cfg["hidden_size"],
            f"{a}.feed_forward_length": cfg["intermediate_size"], f"{a}.attention.head_count": H,
            f"{a}.attention.head_count_kv": KV, f"{a}.rope.freq_base": np.float32(cfg["rope_theta"]),
            f"{a}.attention.layer_norm_rms_epsilon": np.float32(cfg["rms_norm_eps"]),
            f"{a}.rope.dimension_count": cfg["hidden_size"] // H, f"{a}.vocab_size": cfg["vocab_size"],
            "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": a if qwen else "llama-bpe",
            "tokenizer.ggml.bos_token_id": None if qwen else 0, "tokenizer.ggml.eos_token_id": 1,
            "tokenizer.ggml.add_bos_token": not qwen}
    wrong = {k: (field(k), v) for k, v in want.items() if field(k) != v}
    rep.check(not wrong, f"{label}: architecture and tokenizer keys from config.json / tokenizer_config.json",
              f"(ours, expected): {wrong}" if wrong else "")
    tokens = field("tokenizer.ggml.tokens")
    rep.check(len(tokens) == cfg["vocab_size"] and tokens[-1] == f"[PAD{cfg['vocab_size'] - 1}]",
              f"{label}: {cfg['vocab_size']} tokens, the ids no token has as [PADi]", f"{len(tokens)} tokens, last {tokens[-1]!r}")


def llama_tokens(binaries, model, text):
    r = run([os.path.join(binaries, "llama-tokenize"), "-m", model, "-f", text, "--ids", "--log-disable"])
    m = re.search(r"\[[0-9, ]*\]", r.stdout)
    return json.loads(m.group(0)) if r.returncode == 0 and m else None


def kld(binaries, base, model, text, tmp):
    """llama-perplexity's mean KL divergence of `model` against the logits saved from `base`."""
    saved = os.path.join(tmp, os.path.basename(base) + ".kld")
    if not os.path.exists(saved):
        run([os.path.join(binaries, "llama-perplexity"), "-m", base, "-f", text, *PPL_ARGS, "--kl-divergence-base", saved])
    for _ in range(5):  # the closing lines are sometimes lost (see llama_cpp.perplexity)
        r = run([os.path.join(binaries, "llama-perplexity"), "-m", model, *PPL_ARGS, "--kl-divergence-base", saved, "--kl-divergence"])
        m = re.search(r"Mean\s+KLD:\s+([0-9.]+)", r.stdout + r.stderr)
        if m:
            return float(m.group(1))
    return None


def lane_model(rep, binary, binaries, tmp, folder, entry, text, rows):
    label = os.path.basename(folder)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    W = load_safetensors(folder)
    src, out = os.path.join(folder, entry), os.path.join(tmp, f"{label}-ours.gguf")
    r = run([binary, "convert", src, out])
    if not rep.check(r.returncode == 0, f"{label}: aicompress convert {entry} -> .gguf", r.stderr.strip()[-300:]):
        return
    check_file(rep, label, out, W, cfg)
    from tokenizers import Tokenizer
    want = Tokenizer.from_file(os.path.join(folder, "tokenizer.json")).encode(open(text).read()).ids
    got = llama_tokens(binaries, out, text)
    rep.check(got == want, f"{label}: llama-tokenize ids equal tokenizers' ({len(want)} tokens)",
              "" if got == want else f"first difference at {next((i for i, (a, b) in enumerate(zip(got or [], want)) if a != b), None)}")
    ppl, why = perplexity(binaries, out, text)
    qwen = cfg["architectures"] == ["Qwen2ForCausalLM"]
    bos = None if qwen else 0
    ref = numpy_ppl(W, cfg, want, bos)
    wrong = numpy_ppl(W, cfg, want, bos, interleaved=True)
    row = {"model": label, "ppl": ppl, "numpy": ref, "wrong": wrong}
    rows.append(row)
    if rep.check(ppl is not None, f"{label}: llama-perplexity runs on our GGUF", why):
        rel = abs(ppl - ref) / ref
        rep.check(rel <= 0.01, f"{label}: llama.cpp's PPL equals the numpy HF forward pass's within 1%", f"{ppl:.4f} vs {ref:.4f} ({100 * rel:.4f}%)")
        rel_wrong = abs(ppl - wrong) / wrong
        what = ("rope on adjacent pairs instead of halves: the check sees the layout" if qwen
                else "llama.cpp's rope on unpermuted rows: what a missing q/k permutation gives")
        rep.check(rel_wrong > 0.05, f"{label}: with the other rope layout ({what}) the PPL is off by more than 5%",
                  f"numpy with adjacent-pair rope: {wrong:.4f} ({100 * rel_wrong:.1f}% away)")
    evaluate_checks(rep, binary, tmp, folder, src, out, text, want, ppl, ref, row)
    ours_q, ref_q = os.path.join(tmp, f"{label}-q4km-ours.gguf"), os.path.join(tmp, f"{label}-q4km-ref.gguf")
    r = run([binary, "quantize", "--gguf", "Q4_K_M", src, ours_q])
    ok_ours = rep.check(r.returncode == 0, f"{label}: aicompress quantize --gguf Q4_K_M {entry}", r.stderr.strip()[-300:] if r.returncode else "")
    ok_ref = rep.check(llama_quantize(binaries, out, ref_q, "Q4_K_M", False)[0], f"{label}: llama-quantize Q4_K_M on our converted GGUF")
    if not (ok_ours and ok_ref):
        return
    types_eq, bytes_eq, detail = compare(ref_q, ours_q)
    rep.check(types_eq, f"{label}: Q4_K_M per-tensor types equal llama-quantize's", detail if not types_eq else type_counts(ours_q))
    rep.check(bytes_eq, f"{label}: Q4_K_M tensor bytes equal llama-quantize's (bit-exact)", detail if types_eq else "")
    k_ours, k_ref = kld(binaries, out, ours_q, text, tmp), kld(binaries, out, ref_q, text, tmp)
    row.update(kld_ours=k_ours, kld_ref=k_ref, size_ours=os.path.getsize(ours_q), size_ref=os.path.getsize(ref_q))
    if rep.check(k_ours is not None and k_ref is not None, f"{label}: llama-perplexity --kl-divergence runs on both"):
        rep.check(k_ours <= k_ref, f"{label}: mean KLD vs the float model no higher than llama-quantize's", f"{k_ours:.6f} vs {k_ref:.6f}")


def ours_eval(binary, model, text, base=None):
    """(JSON, tokens/s, error) of `BIN evaluate MODEL --text` with llama-perplexity's context and chunks."""
    cmd = [binary, "evaluate", model, "--text", text, "--context", str(N_CTX), "--chunks", str(CHUNKS), "--json"]
    r = run(cmd + (["--compare", base] if base else []))
    if r.returncode != 0:
        return None, None, f"exit {r.returncode}: {r.stderr.strip()[-300:]}"
    m = re.search(r"([0-9.]+) tokens/s", r.stderr)
    return json.loads(r.stdout), float(m.group(1)) if m else None, ""


def evaluate_checks(rep, binary, tmp, folder, src, gguf_file, text, want, llama_ppl, numpy_ref, row):
    """`evaluate` on the checkpoint itself (folder and entry file) against our GGUF path on the
    converted file (and on an F32 copy converted), llama.cpp and the numpy forward pass."""
    label = os.path.basename(folder)
    hf, hf_rate, why = ours_eval(binary, folder, text)
    if not rep.check(hf is not None, f"{label}: aicompress evaluate FOLDER --text runs the checkpoint", why):
        return
    gg, gg_rate, why = ours_eval(binary, gguf_file, text)
    if not rep.check(gg is not None, f"{label}: aicompress evaluate on the converted GGUF", why):
        return
    p_hf, p_gg = hf["perplexity"]["value"], gg["perplexity"]["value"]
    row.update(ours_hf=p_hf, ours_gguf=p_gg, rate_hf=hf_rate, rate_gguf=gg_rate)
    rep.check(hf["text"]["tokens"] == len(want) == gg["text"]["tokens"], f"{label}: evaluate tokenizes to tokenizers' count on both paths",
              f"HF {hf['text']['tokens']}, GGUF {gg['text']['tokens']}, tokenizers {len(want)}")
    rep.check(abs(p_hf - p_gg) / p_gg <= 0.001, f"{label}: HF evaluate PPL equals GGUF evaluate PPL within 0.1%",
              f"{p_hf:.4f} vs {p_gg:.4f} ({100 * abs(p_hf - p_gg) / p_gg:.5f}%)")
    if llama_ppl is not None:
        rep.check(abs(p_hf - llama_ppl) / llama_ppl <= 0.01, f"{label}: HF evaluate PPL equals llama-perplexity's within 1%",
                  f"{p_hf:.4f} vs {llama_ppl:.4f} ({100 * abs(p_hf - llama_ppl) / llama_ppl:.4f}%)")
    rep.check(abs(p_hf - numpy_ref) / numpy_ref <= 0.01, f"{label}: HF evaluate PPL equals the numpy HF forward pass's within 1%",
              f"{p_hf:.4f} vs {numpy_ref:.4f} ({100 * abs(p_hf - numpy_ref) / numpy_ref:.4f}%)")
    # an F32 copy of the checkpoint (numpy widens BF16/F16 exactly), converted to GGUF by us
    f32_folder, f32 = os.path.join(tmp, f"{label}-f32"), os.path.join(tmp, f"{label}-f32.gguf")
    from safetensors.numpy import save_file
    shutil.copytree(folder, f32_folder, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    save_file({k: v.astype(np.float32) for k, v in load_safetensors(folder).items()}, os.path.join(f32_folder, "model.safetensors"))
    r = run([binary, "convert", os.path.join(f32_folder, "model.safetensors"), f32])
    if rep.check(r.returncode == 0, f"{label}: an F32 copy of the checkpoint, aicompress convert -> F32 .gguf", r.stderr.strip()[-300:]):
        g32, _, why = ours_eval(binary, f32, text)
        if rep.check(g32 is not None, f"{label}: aicompress evaluate on the F32 GGUF", why):
            p32 = g32["perplexity"]["value"]
            row.update(ours_f32=p32)
            rep.check(abs(p_hf - p32) / p32 <= 0.001, f"{label}: HF evaluate PPL equals the F32 GGUF's within 0.1%", f"{p_hf:.4f} vs {p32:.4f}")
    # --compare across the two paths, each way round: same tokens (else exit 65), same logits.
    for model, base in [(folder, gguf_file), (gguf_file, src)]:
        c, _, why = ours_eval(binary, model, text, base)
        if rep.check(c is not None, f"{label}: evaluate {os.path.basename(model)} --compare {os.path.basename(base)} (identical token ids)", why):
            kl, top = c["kl_divergence"]["mean"], c["same_top"]["value"]
            rep.check(abs(kl) < 1e-5 and top == 1.0, f"{label}: HF and GGUF logits agree (mean KLD < 1e-5, same top token everywhere)",
                      f"mean KLD {kl:.3g}, same top {100 * top:.3f}%")


def evaluate_refusals(rep, binary, tmp, folder, text):
    """config.json features the decoder does not run: exit 65, one line naming config.json and the key."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    cases = [("rope_scaling", {"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}),
             ("rope_scaling", {"rope_scaling": {"type": "yarn", "factor": 4.0}}),
             ("hidden_act", {"hidden_act": "gelu"}),
             ("partial_rotary_factor", {"partial_rotary_factor": 0.5}),
             ("sliding_window", {"sliding_window": N_CTX // 2})]
    bad = os.path.join(tmp, "hf-refused")
    shutil.copytree(folder, bad)
    for key, change in cases:
        json.dump(dict(cfg, **change), open(os.path.join(bad, "config.json"), "w"))
        r = run([binary, "evaluate", bad, "--text", text, "--context", str(N_CTX), "--chunks", "1"])
        lines = r.stderr.strip().splitlines()
        rep.check(r.returncode == 65 and len(lines) == 1 and "config.json" in r.stderr and f"'{key}'" in r.stderr,
                  f"evaluate refuses {json.dumps(change)} (exit 65, one line naming config.json and '{key}')", f"exit {r.returncode}: {r.stderr.strip()}")
    # a window no shorter than the context changes nothing: it runs
    json.dump(dict(cfg, sliding_window=N_CTX), open(os.path.join(bad, "config.json"), "w"))
    r = run([binary, "evaluate", bad, "--text", text, "--context", str(N_CTX), "--chunks", "1"])
    rep.check(r.returncode == 0, "a sliding_window as long as the context runs", f"exit {r.returncode}: {r.stderr.strip()}")
    json.dump(cfg, open(os.path.join(bad, "config.json"), "w"))
    os.remove(os.path.join(bad, "tokenizer.json"))
    r = run([binary, "evaluate", bad, "--text", text])
    rep.check(r.returncode == 65 and "tokenizer.json" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
              "evaluate without tokenizer.json refused (exit 65, one line)", f"exit {r.returncode}: {r.stderr.strip()}")
    os.remove(os.path.join(bad, "config.json"))
    r = run([binary, "evaluate", bad, "--text", text])
    rep.check(r.returncode == 65 and "config.json" in r.stderr, "evaluate without config.json refused (exit 65)", f"exit {r.returncode}: {r.stderr.strip()}")


def refusals(rep, binary, tmp, folder):
    bad = os.path.join(tmp, "gpt2")
    shutil.copytree(folder, bad)
    cfg = json.load(open(os.path.join(bad, "config.json")))
    json.dump(dict(cfg, architectures=["GPT2LMHeadModel"]), open(os.path.join(bad, "config.json"), "w"))
    r = run([binary, "convert", os.path.join(bad, "model.safetensors"), os.path.join(tmp, "gpt2.gguf")])
    rep.check(r.returncode == 65 and len(r.stderr.strip().splitlines()) == 1 and "GPT2LMHeadModel" in r.stderr,
              "unmapped architecture refused (exit 65, one line)", f"exit {r.returncode}: {r.stderr.strip()}")
    json.dump(cfg, open(os.path.join(bad, "config.json"), "w"))
    os.remove(os.path.join(bad, "tokenizer.json"))
    r = run([binary, "convert", os.path.join(bad, "model.safetensors"), os.path.join(tmp, "notok.gguf")])
    rep.check(r.returncode == 65 and "tokenizer.json" in r.stderr, "no tokenizer.json refused (exit 65)", f"exit {r.returncode}: {r.stderr.strip()}")
    os.remove(os.path.join(bad, "config.json"))
    kept = os.path.join(tmp, "kept.gguf")
    r = run([binary, "convert", os.path.join(bad, "model.safetensors"), kept])
    import gguf
    names = {t.name for t in gguf.GGUFReader(kept).tensors} if r.returncode == 0 else set()
    rep.check("model.embed_tokens.weight" in names, "without config.json the names are kept", f"exit {r.returncode}")


def llama_converter(rep):
    try:
        import torch  # noqa: F401
    except ImportError:
        print("SKIP llama.cpp's convert_hf_to_gguf.py comparison: it imports torch, which is not installed")
        return
    rep.check(False, "llama.cpp's convert_hf_to_gguf.py comparison", "torch is installed but the comparison is not written")


def main():
    rep = Report()
    binary, binaries = start_lane(rep, "hf_llama", ["gguf", "safetensors", "tokenizers"],
                                  ["gguf", "numpy", "safetensors", "tokenizers"])
    if binary is None or binaries is None:
        return rep.finish()
    with scratch_folder("aicompress-hfllama-", keep="--keep" in sys.argv) as tmp:
        r = run([sys.executable, os.path.join(ROOT, "fixtures", "llm", "make_hf_llama.py"), tmp])
        if not rep.check(r.returncode == 0, "fixtures/llm/make_hf_llama.py", r.stderr.strip()[-300:]):
            return rep.finish()
        text, rows = os.path.join(tmp, "text.txt"), []
        lane_model(rep, binary, binaries, tmp, os.path.join(tmp, "llama"), "model.safetensors", text, rows)
        lane_model(rep, binary, binaries, tmp, os.path.join(tmp, "llama-tied"), "model.safetensors.index.json", text, rows)
        lane_model(rep, binary, binaries, tmp, os.path.join(tmp, "qwen2"), "model.safetensors", text, rows)
        refusals(rep, binary, tmp, os.path.join(tmp, "llama"))
        evaluate_refusals(rep, binary, tmp, os.path.join(tmp, "llama"), text)
        llama_converter(rep)
        print("model | llama.cpp PPL | numpy PPL | numpy PPL, other rope layout | Q4_K_M mean KLD ours | llama-quantize's | Q4_K_M file bytes ours vs llama-quantize's")
        for r in rows:
            print(f"{r['model']} | {r['ppl']} | {r['numpy']:.4f} | {r['wrong']:.4f} | {r.get('kld_ours')} | {r.get('kld_ref')} | "
                  f"{r.get('size_ours')} vs {r.get('size_ref')}")
        print("model | evaluate PPL: checkpoint | converted GGUF | F32 GGUF | llama.cpp | numpy | tokens/s checkpoint vs GGUF")
        for r in rows:
            print(f"{r['model']} | {r.get('ours_hf')} | {r.get('ours_gguf')} | {r.get('ours_f32')} | {r['ppl']} | {r['numpy']:.4f} | "
                  f"{r.get('rate_hf')} vs {r.get('rate_gguf')}")
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
