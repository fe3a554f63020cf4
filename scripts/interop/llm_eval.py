#!/usr/bin/env python3
"""llama.cpp as the judge of `aicompress evaluate MODEL.gguf --text FILE [--compare BASE]`.

Usage: llm_eval.py [BIN] [--keep] [--bench] [--only=NAME,...]   (BIN default .build/debug/aicompress)

Gets llama.cpp's tools from scripts/llama-cpp.sh (LLAMA_CPP_BIN=DIR uses the binaries in DIR),
then makes, with gguf-py and a fixed seed, two small random-weight decoders whose tokenizers are
real: the vocabulary (and merges) of llama.cpp's own vocab-only test files (models/ggml-vocab-*
.gguf in the same llama.cpp tree):
  spm   general.architecture llama, SentencePiece (ggml-vocab-llama-spm, 32000 tokens),
        adjacent-pair rotary embeddings, separate output (a tied output would make the model
        predict the token it was given, every time; the tied path is checked in DecoderTests)
  qwen2 general.architecture qwen2, byte-level BPE with the qwen2 pre-tokenizer
        (ggml-vocab-qwen2), q/k/v biases, half-split rotary embeddings, separate output
  qwen3-tied  general.architecture qwen3 (per-head q/k RMSNorm before rope), the qwen2 vocabulary,
        head size 64 over a 128-wide residual (key_length), grouped-query 4/2, tied output
  qwen3 the same architecture 256 wide, head size 128, one kv head, separate output, on the spm
        vocabulary (K-quant rows; a 32000-row output instead of 151936)
  phi3  general.architecture phi3: fused attn_qkv (q, k, v rows) and ffn_up (gate, then up rows),
        8 heads over 2 kv heads (grouped-query factor 4, as Phi-3 medium), separate output, the spm
        vocabulary, a sliding window (2047) beyond the context; F32 perplexity within 1% of
        llama-perplexity's and within 0.01% of it with an F32 KV cache (-ctk f32 -ctv f32: its
        default F16 cache rounds K and V); Q4_K_M KLD; our Q4_K_M and Q2_K plans (attn_qkv counts as attn_v, its
        GQA factor from the fused rows) and bytes equal llama-quantize's; our GPTQ Q4_K_M of it
        (`--method gptq`, attn_qkv and ffn_up calibrated whole) judged as llama-quantize's file
  phi3-tied  the same 128 wide without grouped-query attention (as Phi-3 mini), tied output, on the
        qwen2 vocabulary (rows of 128: the K-quant fallbacks)
Weights are scaled so that attention and the output are peaky (logits with a standard deviation
of a few nats), so perplexity and KL divergence depend on every part of the forward pass. The
spm model is quantized with llama-quantize to Q8_0 and Q4_K_M, the qwen3 model to Q4_K_M; the qwen3
model's perplexity also shows the comparison resolves its q/k norms (a copy with them flattened to
their mean moves llama-perplexity 4x further than we are from it), and it is quantized to Q4_K_M by us: every tensor's type (and bytes) equals llama-quantize's, and
llama-perplexity runs our file to within 1% of the perplexity of its own. The text is the repository's
README.md (the first 12 chunks of 256 tokens), and the seed document ../shared/seed/*.txt
(Chinese; F32 only) when present.
Checks, per model and text: the token count equals llama-tokenize's; our perplexity is within 1%
of llama-perplexity's (F32, and each quantization); our mean KL divergence of Q4_K_M against F32
is within 10% of `llama-perplexity --kl-divergence`, our same-top-token rate within 2 points of
its (Q8_0's divergence is printed only: llama.cpp also rounds the activations to Q8_0 there). It also runs the tokenizer tests (swift test --filter TokenizerTests) against
llama.cpp's test strings with AICOMPRESS_LLAMA_VOCAB set, when the test binary is built.
--bench prints our and llama-perplexity's tokens/s on the F32 spm model (2 threads each).
AICOMPRESS_SKIP_LLAMA=1 skips the lane (one line saying so, `0 passed, 0 failed`, exit 0).
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

from common import Report, executable, scratch_folder
from llama_cpp import compare, llama_binaries, llama_quantize, pip_install

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 17
CONTEXT = 256
CHUNKS = 12  # of the README's ~31: enough tokens (1,500 scored) for 1% and 10% to mean something
PPL_TOLERANCE = 0.01
PPL_TIGHT = 1e-4  # phi3's F32 perplexity: within 0.01% of llama-perplexity's (a wrong fused split is far outside)
KLD_TOLERANCE = 0.10
SAME_TOP_POINTS = 2.0


def vocab_folder(binaries):
    """models/ of the llama.cpp tree the binaries were built from."""
    src = os.path.join(os.path.dirname(os.path.dirname(binaries)), "src")
    hits = glob.glob(os.path.join(src, "*", "vendor", "llama.cpp", "models"))
    return hits[0] if hits else None


def copy_tokenizer(writer, vocab_path):
    """Every tokenizer.* key of a vocab-only GGUF file, into `writer`."""
    import gguf
    r = gguf.GGUFReader(vocab_path)
    for field in r.fields.values():
        if not field.name.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                values = [bytes(field.parts[i]).decode("utf-8", errors="surrogateescape") for i in field.data]
            else:
                values = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_array(field.name, values)
        elif vtype == gguf.GGUFValueType.STRING:
            writer.add_string(field.name, bytes(field.parts[field.data[0]]).decode("utf-8"))
        else:
            writer.add_key_value(field.name, field.parts[field.data[0]].tolist()[0], vtype)
    return len(r.fields["tokenizer.ggml.tokens"].data)


def write_model(path, arch, vocab_path, n_embd=256, n_ff=512, n_layer=4, n_head=4, n_kv=2, tied=True, biases=False,
                head_dim=None):
    """A random decoder with peaky outputs and a real tokenizer; qwen3 gets its per-head q/k
    norms, phi3 its fused attn_qkv and ffn_up (the same random values, concatenated), and
    `head_dim` (written as key/value length) may differ from n_embd / n_head."""
    import gguf
    rng = np.random.default_rng(SEED)
    w = gguf.GGUFWriter(path, arch)
    n_vocab = copy_tokenizer(w, vocab_path)
    hd = head_dim or n_embd // n_head
    qk_norm = arch == "qwen3"
    fused = arch == "phi3"
    if fused:
        # As convert_hf_to_gguf writes Phi-3 mini's: a sliding window (llama.cpp attends to
        # everything; aicompress refuses sequences past it) beyond the evaluated context.
        w.add_sliding_window(2047)
    if head_dim:
        w.add_key_length(hd)
        w.add_value_length(hd)
    # Not "phi3" in the name: llama.cpp then sets attributes on Phi-3's own special tokens
    # (<|endoftext|>), which these vocabularies lack, and refuses the file.
    w.add_name(f"llm-eval-{arch}" if arch != "phi3" else "llm-eval-fused")
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(hd)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    def m(rows, cols, scale):
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    def v(n, scale, mean=0.0):
        return (mean + rng.standard_normal(n) * scale).astype(np.float32)

    # output 0.15: logits = output · h with |h| ≈ 16 spread over ~2.4 nats;
    # q/k 0.12: attention scores with a spread of ~3; v/o and the FFN small, so that each block
    # adds about a third of the residual: a random model with large updates is chaotic (any
    # rounding, even llama.cpp's own Q8 activations, would change its predictions).
    w.add_tensor("token_embd.weight", m(n_vocab, n_embd, 0.15))
    for i in range(n_layer):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", v(n_embd, 0.1, 1.0))
        q, k, vv = m(n_head * hd, n_embd, 0.12), m(n_kv * hd, n_embd, 0.12), m(n_kv * hd, n_embd, 0.02)
        if fused:
            # phi3: one attn_qkv of q rows, then k rows, then v rows (convert_hf_to_gguf keeps
            # Hugging Face's qkv_proj as it is).
            w.add_tensor(b + "attn_qkv.weight", np.concatenate([q, k, vv]))
        else:
            w.add_tensor(b + "attn_q.weight", q)
            w.add_tensor(b + "attn_k.weight", k)
            w.add_tensor(b + "attn_v.weight", vv)
        if biases:
            w.add_tensor(b + "attn_q.bias", v(n_head * hd, 0.5))
            w.add_tensor(b + "attn_k.bias", v(n_kv * hd, 0.5))
            w.add_tensor(b + "attn_v.bias", v(n_kv * hd, 0.1))
        if qk_norm:
            # The norms set q and k to unit RMS times these weights: a mean of 1.7 gives scores
            # with a spread of about 3, as the 0.12 projections do for the other models.
            w.add_tensor(b + "attn_q_norm.weight", v(hd, 0.3, 1.7))
            w.add_tensor(b + "attn_k_norm.weight", v(hd, 0.3, 1.7))
        w.add_tensor(b + "attn_output.weight", m(n_embd, n_head * hd, 0.02))
        w.add_tensor(b + "ffn_norm.weight", v(n_embd, 0.1, 1.0))
        gate, up = m(n_ff, n_embd, 0.06), m(n_ff, n_embd, 0.06)
        if fused:
            # phi3: ffn_up holds the gate rows, then the up rows (2·n_ff; SwiGLU splits it).
            w.add_tensor(b + "ffn_up.weight", np.concatenate([gate, up]))
        else:
            w.add_tensor(b + "ffn_gate.weight", gate)
            w.add_tensor(b + "ffn_up.weight", up)
        w.add_tensor(b + "ffn_down.weight", m(n_embd, n_ff, 0.005))
    w.add_tensor("output_norm.weight", v(n_embd, 0.1, 1.0))
    if not tied:
        w.add_tensor("output.weight", m(n_vocab, n_embd, 0.15))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def llama_ppl(binaries, model, text, extra=()):
    """(stdout+stderr, seconds) of llama-perplexity with our context on 2 threads."""
    t0 = time.time()
    r = run([os.path.join(binaries, "llama-perplexity"), "-m", model, "-f", text, "-c", str(CONTEXT), "-t", "2",
             "-b", str(CONTEXT), "--chunks", str(CHUNKS), *extra])
    return r.stdout + r.stderr, time.time() - t0, r.returncode


def number(pattern, log):
    m = re.search(pattern, log)
    return float(m.group(1)) if m else None


def llama_token_count(binaries, model, text):
    r = run([os.path.join(binaries, "llama-tokenize"), "-m", model, "-f", text, "--ids", "--no-escape", "--log-disable"])
    m = re.search(r"\[([0-9, ]*)\]", r.stdout)
    return len(m.group(1).split(",")) if m and m.group(1).strip() else None


def ours(binary, model, text, base=None):
    cmd = [binary, "evaluate", model, "--text", text, "--context", str(CONTEXT), "--chunks", str(CHUNKS), "--json"]
    if base:
        cmd += ["--compare", base]
    t0 = time.time()
    r = run(cmd, env=dict(os.environ, AICOMPRESS_THREADS="2"))
    if r.returncode != 0:
        return None, r.stderr.strip()[-300:], time.time() - t0
    return json.loads(r.stdout), r.stderr, time.time() - t0


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def check_model(rep, binary, binaries, tmp, name, f32, text, quants, bench, resolution=False, f32_tolerance=PPL_TOLERANCE):
    label = f"{name} on {os.path.basename(text)}"
    count = llama_token_count(binaries, f32, text)
    got, why, secs = ours(binary, f32, text)
    if not rep.check(got is not None, f"{label}: aicompress evaluate --text runs", "" if got is not None else why):
        return
    rep.check(count == got["text"]["tokens"], f"{label}: token count equals llama-tokenize's", f"{got['text']['tokens']} vs {count}")
    log, lsecs, rc = llama_ppl(binaries, f32, text)
    ref = number(r"Final estimate: PPL = ([0-9.]+)", log)
    if rep.check(ref is not None, f"{label}: llama-perplexity runs", log.strip()[-200:] if ref is None else ""):
        p = got["perplexity"]["value"]
        rep.check(rel(p, ref) <= PPL_TOLERANCE, f"{label} F32: perplexity within 1% of llama-perplexity's",
                  f"{p:.4f} vs {ref:.4f} ({100 * rel(p, ref):.3f}%)")
        if f32_tolerance < PPL_TOLERANCE:
            # llama-perplexity rounds its KV cache to F16 by default; with an F32 cache it
            # computes the F32 model in F32 throughout, as we do, and the agreement is tight.
            log32, _, _ = llama_ppl(binaries, f32, text, ["-ctk", "f32", "-ctv", "f32"])
            ref32 = number(r"Final estimate: PPL = ([0-9.]+)", log32)
            if rep.check(ref32 is not None, f"{label}: llama-perplexity -ctk f32 -ctv f32 runs", log32.strip()[-200:] if ref32 is None else ""):
                rep.check(rel(p, ref32) <= f32_tolerance, f"{label} F32: perplexity within {100 * f32_tolerance:g}% of "
                          "llama-perplexity's with an F32 KV cache", f"{p:.6f} vs {ref32:.6f} ({100 * rel(p, ref32):.5f}%)")
        if resolution:
            check_head_norm_resolution(rep, binaries, tmp, name, f32, text, p, ref)
    if bench:
        tokens = got["text"]["chunks"] * CONTEXT  # both tools evaluate whole chunks
        print(f"BENCH {label} F32: ours {tokens / secs:.1f} tokens/s ({secs:.1f} s), llama-perplexity {tokens / lsecs:.1f} tokens/s "
              f"({lsecs:.1f} s), ratio {lsecs / secs:.2f}x")
    if not quants:
        return
    kld_base = os.path.join(tmp, f"{name}-{os.path.basename(text)}.kld")
    log, _, rc = llama_ppl(binaries, f32, text, ["--kl-divergence-base", kld_base])
    for q in quants:
        qpath = os.path.join(tmp, f"{name}-{q}.gguf")
        if not os.path.exists(qpath):
            r = run([os.path.join(binaries, "llama-quantize"), f32, qpath, q])
            if not rep.check(r.returncode == 0, f"{name}: llama-quantize {q}", "" if r.returncode == 0 else r.stderr.strip()[-200:]):
                continue
        log, _, rc = llama_ppl(binaries, qpath, text, ["--kl-divergence-base", kld_base, "--kl-divergence"])
        ref_ppl = number(r"Mean PPL\(Q\)\s*:\s*([0-9.]+)", log)
        ref_kld = number(r"Mean    KLD:\s*([0-9.]+)", log)
        ref_same = number(r"Same top p:\s*([0-9.]+)", log)
        got, why, _ = ours(binary, qpath, text, base=f32)
        ok = got is not None and ref_kld is not None
        if not rep.check(ok, f"{label} {q}: both --compare runs", "" if ok else (why if got is None else log.strip()[-200:])):
            continue
        p, k, s = got["perplexity"]["value"], got["kl_divergence"]["mean"], 100 * got["same_top"]["value"]
        rep.check(rel(p, ref_ppl) <= PPL_TOLERANCE, f"{label} {q}: perplexity within 1% of llama-perplexity's",
                  f"{p:.4f} vs {ref_ppl:.4f} ({100 * rel(p, ref_ppl):.3f}%)")
        if q.startswith("Q8"):
            # llama.cpp multiplies Q8_0 weights by activations rounded to Q8_0 as well, which
            # adds as much divergence as the weights' own rounding: ours (exact activations) is
            # smaller by design, so only the figures are printed.
            print(f"INFO {label} {q}: mean KLD {k:.6f} vs llama-perplexity's {ref_kld:.6f}; same top {s:.3f}% vs {ref_same:.3f}%")
            continue
        rep.check(rel(k, ref_kld) <= KLD_TOLERANCE, f"{label} {q}: mean KL divergence within 10% of llama-perplexity's",
                  f"{k:.6f} vs {ref_kld:.6f} ({100 * rel(k, ref_kld):.2f}%)")
        rep.check(abs(s - ref_same) <= SAME_TOP_POINTS, f"{label} {q}: same-top-token rate within 2 points",
                  f"{s:.3f}% vs {ref_same:.3f}%")


def check_head_norm_resolution(rep, binaries, tmp, name, f32, text, ours, ref):
    """The comparison resolves qwen3's q/k norms: llama-perplexity on a copy whose norm weights
    are flattened to their mean moves further from its own figure than ours is."""
    import gguf
    import shutil
    flat = os.path.join(tmp, f"{name}-flat-norms.gguf")
    shutil.copy(f32, flat)
    for t in gguf.GGUFReader(flat, "r+").tensors:
        if t.name.endswith(("attn_q_norm.weight", "attn_k_norm.weight")):
            t.data[...] = float(np.mean(t.data))
    log, _, _ = llama_ppl(binaries, flat, text)
    moved = number(r"Final estimate: PPL = ([0-9.]+)", log)
    ok = moved is not None and rel(ours, ref) * 4 < rel(moved, ref)
    rep.check(ok, f"{name} on {os.path.basename(text)}: the comparison resolves the q/k norms (ours 4x closer than flattened norms)",
              f"ours {100 * rel(ours, ref):.4f}% off, flattened {100 * rel(moved, ref):.4f}% off" if moved else log.strip()[-200:])


def check_quantize(rep, binary, binaries, tmp, name, f32, text, qtype):
    """`quantize --gguf QTYPE` of `f32` against llama-quantize's: the same type (and bytes) for
    every tensor, and llama-perplexity runs our file to within 1% of its own."""
    label = f"{name} quantize --gguf {qtype}"
    ref, mine = os.path.join(tmp, f"{name}-{qtype}-ref.gguf"), os.path.join(tmp, f"{name}-{qtype}-ours.gguf")
    ok, _, tail = llama_quantize(binaries, f32, ref, qtype, False)
    if not rep.check(ok, f"{label}: llama-quantize", "" if ok else tail):
        return
    r = run([binary, "quantize", "--gguf", qtype, f32, mine])
    if not rep.check(r.returncode == 0, f"{label}: aicompress runs", r.stderr.strip()[-300:] if r.returncode else ""):
        return
    types_eq, bytes_eq, detail = compare(ref, mine)
    rep.check(types_eq, f"{label}: every tensor's type and dims equal llama-quantize's plan", detail if not types_eq else "")
    rep.check(bytes_eq, f"{label}: tensor bytes equal llama-quantize's", detail if types_eq and not bytes_eq else "")
    logs = [llama_ppl(binaries, path, text)[0] for path in (ref, mine)]
    ppl = [number(r"Final estimate: PPL = ([0-9.]+)", log) for log in logs]
    if rep.check(ppl[1] is not None, f"{label}: llama-perplexity loads and runs ours", logs[1].strip()[-200:] if ppl[1] is None else ""):
        rep.check(ppl[0] is not None and rel(ppl[1], ppl[0]) <= PPL_TOLERANCE, f"{label}: its perplexity within 1% of llama-quantize's file",
                  f"{ppl[1]:.4f} vs {ppl[0]}")


def gptq_file(rep, binary, tmp, name, f32, calibration, qtype):
    """Our `quantize --gguf QTYPE --method gptq` of `f32` (phi3: its fused attn_qkv and ffn_up
    calibrated as one weight each) where `check_model` looks for quantization `gptq-QTYPE`, which
    it then judges as llama-quantize's files: llama-perplexity loads and runs it, and our
    perplexity and KL divergence of it agree with llama-perplexity's."""
    path = os.path.join(tmp, f"{name}-gptq-{qtype}.gguf")
    r = run([binary, "quantize", "--gguf", qtype, "--method", "gptq", "--calibration", calibration,
             "--calibration-tokens", str(CONTEXT), "--calibration-chunks", "4", "-q", f32, path])
    rep.check(r.returncode == 0, f"{name}: quantize --gguf {qtype} --method gptq runs", r.stderr.strip()[-300:] if r.returncode else "")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    keep, bench = "--keep" in sys.argv, "--bench" in sys.argv
    rep = Report()
    if os.environ.get("AICOMPRESS_SKIP_LLAMA") == "1":
        print("llm_eval: skipped (AICOMPRESS_SKIP_LLAMA=1)")
        return rep.finish()
    binary = executable(rep, args[0] if args else os.path.join(ROOT, ".build", "debug", "aicompress"))
    if binary is None:
        return rep.finish()
    try:
        import gguf  # noqa: F401
    except ImportError:
        pip_install("gguf", "numpy")
    binaries = llama_binaries(rep)
    if binaries is None:
        return rep.finish()
    vocabs = vocab_folder(binaries)
    if not rep.check(vocabs is not None, "llama.cpp models/ folder with the vocab test files", str(vocabs)):
        return rep.finish()
    with scratch_folder("aicompress-llm-", keep) as tmp:
        texts = [os.path.join(ROOT, "README.md")]
        # ../shared/seed from the main checkout, ../../shared/seed from a worktree under wt/
        seed = sorted(glob.glob(os.path.join(os.path.dirname(ROOT), "shared", "seed", "*.txt"))
                      or glob.glob(os.path.join(os.path.dirname(os.path.dirname(ROOT)), "shared", "seed", "*.txt")))
        texts += seed[:1]
        spm = os.path.join(tmp, "spm-f32.gguf")
        write_model(spm, "llama", os.path.join(vocabs, "ggml-vocab-llama-spm.gguf"), tied=False)
        qwen = os.path.join(tmp, "qwen2-f32.gguf")
        write_model(qwen, "qwen2", os.path.join(vocabs, "ggml-vocab-qwen2.gguf"), n_embd=128, n_ff=256, n_head=4, n_kv=2,
                    tied=False, biases=True)
        # qwen3: q/k norms, head size twice n_embd / n_head; tied on Qwen's own tokenizer, and
        # untied 256 wide (K-quant rows) with one kv head on the 32000-token spm vocabulary.
        qwen3_tied = os.path.join(tmp, "qwen3-tied-f32.gguf")
        write_model(qwen3_tied, "qwen3", os.path.join(vocabs, "ggml-vocab-qwen2.gguf"), n_embd=128, n_ff=256, n_head=4, n_kv=2,
                    tied=True, head_dim=64)
        qwen3 = os.path.join(tmp, "qwen3-f32.gguf")
        write_model(qwen3, "qwen3", os.path.join(vocabs, "ggml-vocab-llama-spm.gguf"), n_embd=256, n_ff=512, n_head=4, n_kv=1,
                    tied=False, head_dim=128)
        # phi3: fused attn_qkv and ffn_up; untied with grouped-query attention 8/2 (a factor of
        # 4, as Phi-3 medium's 40/10, which changes the Q2_K plan) on the spm vocabulary Phi-3
        # uses, tied without it (as mini) on Qwen's.
        phi3 = os.path.join(tmp, "phi3-f32.gguf")
        write_model(phi3, "phi3", os.path.join(vocabs, "ggml-vocab-llama-spm.gguf"), n_embd=256, n_ff=512, n_head=8, n_kv=2,
                    tied=False)
        phi3_tied = os.path.join(tmp, "phi3-tied-f32.gguf")
        write_model(phi3_tied, "phi3", os.path.join(vocabs, "ggml-vocab-qwen2.gguf"), n_embd=128, n_ff=256, n_head=4, n_kv=4,
                    tied=True)
        models = [("spm", spm), ("qwen2", qwen), ("qwen3-tied", qwen3_tied), ("qwen3", qwen3), ("phi3", phi3), ("phi3-tied", phi3_tied)]
        # --only=NAME[,NAME] runs those models only (their quantizations included).
        only = next((a.split("=", 1)[1].split(",") for a in sys.argv[1:] if a.startswith("--only=")), None)
        wanted = {n for n, _ in models if only is None or n in only}
        unknown = sorted(set(only or []) - {n for n, _ in models})
        if unknown:
            sys.exit(f"llm_eval.py: --only names no model {unknown} (models: {', '.join(n for n, _ in models)})")
        if "phi3" in wanted:
            # Calibrated on the other text when there is one (the first is judged on).
            gptq_file(rep, binary, tmp, "phi3", phi3, texts[-1], "Q4_K_M")
        for i, text in enumerate(texts):
            if "spm" in wanted:
                check_model(rep, binary, binaries, tmp, "spm", spm, text, ["Q4_K_M", "Q8_0"] if i == 0 else [], bench and i == 0)
            if "qwen2" in wanted:
                check_model(rep, binary, binaries, tmp, "qwen2", qwen, text, [], False)
            if "qwen3-tied" in wanted:
                check_model(rep, binary, binaries, tmp, "qwen3-tied", qwen3_tied, text, [], False)
            if "qwen3" in wanted:
                check_model(rep, binary, binaries, tmp, "qwen3", qwen3, text, ["Q4_K_M"] if i == 0 else [], False, resolution=i == 0)
            if "phi3" in wanted:
                check_model(rep, binary, binaries, tmp, "phi3", phi3, text, ["Q4_K_M", "gptq-Q4_K_M"] if i == 0 else [], False,
                            f32_tolerance=PPL_TIGHT)
            if "phi3-tied" in wanted:
                check_model(rep, binary, binaries, tmp, "phi3-tied", phi3_tied, text, [], False, f32_tolerance=PPL_TIGHT)
        if "qwen3" in wanted:
            check_quantize(rep, binary, binaries, tmp, "qwen3", qwen3, texts[0], "Q4_K_M")
        if "phi3" in wanted:
            for qtype in ("Q4_K_M", "Q2_K"):
                check_quantize(rep, binary, binaries, tmp, "phi3", phi3, texts[0], qtype)
        if "phi3-tied" in wanted:
            check_quantize(rep, binary, binaries, tmp, "phi3-tied", phi3_tied, texts[0], "Q4_K_M")
        test_bin = glob.glob(os.path.join(ROOT, ".build", "debug", "aicompressPackageTests.xctest"))
        if test_bin:
            r = run(["swift", "test", "--skip-build", "--disable-swift-testing", "--filter", "TokenizerTests"], cwd=ROOT,
                    env=dict(os.environ, AICOMPRESS_LLAMA_VOCAB=vocabs))
            passed = len(re.findall(r"Test Case .* passed", r.stdout + r.stderr))
            rep.check(r.returncode == 0 and passed >= 8 and "skipped" not in (r.stdout + r.stderr),
                      "tokenizer: token ids equal llama.cpp's on its vocab test files (8 vocabularies)", f"{passed} test cases passed")
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
