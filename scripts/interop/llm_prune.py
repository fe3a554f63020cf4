#!/usr/bin/env python3
"""llama.cpp as the judge of `aicompress prune` on LLaMA-family language models.

Usage: llm_prune.py [BIN] [--keep] [--model F32.gguf --calib CALIB.txt --eval EVAL.txt]
       (BIN default .build/debug/aicompress)

Makes the tiny random-weight models of fixtures/llm/make_tiny_llama.py (F32 and F16) and the tiny
Hugging Face checkpoint of fixtures/llm/make_hf_llama.py, cuts each text into a calibration part
(the first 40%) and an evaluation part (the rest), and prunes the F32 model with magnitude, Wanda
and SparseGPT at 50% and at 2:4. Checks, per output:
  - llama-perplexity loads it and computes a perplexity; `aicompress evaluate` is within 1% of it;
  - gguf-py reads it back: every tensor keeps its type (F32 stays F32, F16 stays F16), the seven
    block projections have exactly the sparsity asked (per row for Wanda and 2:4, per tensor
    for magnitude, per block of 128 columns for SparseGPT), and every other tensor (the
    embedding, the output projection, the norms) is byte-identical to the input;
  - the same command twice gives the same bytes (Wanda 50% and SparseGPT 2:4).
The F16 model is pruned with Wanda (its output must be F16 and load), and the Hugging Face
checkpoint with Wanda to GGUF (llama-perplexity loads it; evaluate agrees within 1%).
With --model/--calib/--eval it runs the six prunings on that model instead and prints the
figure table only (for BENCHMARKS.md); AICOMPRESS_CALIB_SEQUENCES overrides the 16 calibration
sequences. Prints a table of perplexities, times and peak RSS.
AICOMPRESS_SKIP_LLAMA=1 skips the lane.
"""
import os
import re
import subprocess
import sys
import time

import numpy as np

from common import Report, executable, scratch_folder
from llama_cpp import llama_binaries, pip_install

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTEXT = 128
CALIB_TOKENS = 128
# Evaluation chunks of CONTEXT tokens (both tools), at most; AICOMPRESS_EVAL_CHUNKS overrides.
CHUNKS = os.environ.get("AICOMPRESS_EVAL_CHUNKS", "40")
CALIB_SEQUENCES = int(os.environ.get("AICOMPRESS_CALIB_SEQUENCES", "16"))
PROJECTIONS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
# Repeated to check determinism (each SparseGPT run takes minutes in a debug build on a busy machine).
REPEAT = {("wanda", "50%"), ("sparsegpt", "2:4")}
CASES = [("magnitude", ["--keep", "0.5"]), ("wanda", ["--keep", "0.5"]), ("sparsegpt", ["--keep", "0.5"]),
         ("magnitude", ["--pattern", "2:4"]), ("wanda", ["--pattern", "2:4"]), ("sparsegpt", ["--pattern", "2:4"])]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def split_text(path, tmp, name):
    """(calibration, evaluation) files: the first 40% of the text's lines and the rest."""
    lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
    cut = len(lines) * 2 // 5
    calib, evalf = os.path.join(tmp, f"{name}-calib.txt"), os.path.join(tmp, f"{name}-eval.txt")
    if len(lines) < 5:  # one long line: cut by characters at a space
        text = open(path, encoding="utf-8").read()
        at = text.find(" ", len(text) * 2 // 5)
        parts = [text[:at], text[at + 1:]]
    else:
        parts = ["".join(lines[:cut]), "".join(lines[cut:])]
    for f, part in zip((calib, evalf), parts):
        with open(f, "w", encoding="utf-8") as out:
            out.write(part)
    return calib, evalf


def prune(binary, model, out, method, args, calib):
    """(ok, seconds, peak RSS in MiB, message) of one `aicompress prune`."""
    cmd = ["/usr/bin/time", "-v", binary, "prune", "--quiet", *args, model, out]
    if method != "magnitude":
        cmd[4:4] = ["--method", method, "--calibration", calib, "--calibration-tokens", str(CALIB_TOKENS),
                    "--calibration-chunks", str(CALIB_SEQUENCES)]
    t0 = time.monotonic()
    r = run(cmd, env=dict(os.environ, AICOMPRESS_THREADS="2"))
    secs = time.monotonic() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    tail = [l for l in r.stderr.strip().splitlines() if not l.startswith("\t")][-1:] or [""]
    return r.returncode == 0, secs, rss, tail[0]


def llama_ppl(binaries, model, text):
    r = run([os.path.join(binaries, "llama-perplexity"), "-m", model, "-f", text, "-c", str(CONTEXT), "-b", str(CONTEXT), "-t", "2",
             "--chunks", CHUNKS])
    log = r.stdout + r.stderr
    m = re.search(r"Final estimate: PPL = ([0-9.]+)", log)
    return (float(m.group(1)), "") if m else (None, log.strip()[-200:])


def ours_ppl(binary, model, text):
    r = run([binary, "evaluate", model, "--text", text, "--context", str(CONTEXT), "--chunks", CHUNKS, "--json"], env=dict(os.environ, AICOMPRESS_THREADS="2"))
    if r.returncode != 0:
        return None, r.stderr.strip()[-200:]
    import json
    return json.loads(r.stdout)["perplexity"]["value"], ""


def tensors(path):
    import gguf
    reader = gguf.GGUFReader(path)
    return {t.name: (t.tensor_type.name, np.array(t.data), [int(d) for d in t.shape]) for t in reader.tensors}


def check_sparsity(rep, label, base, got, method, args):
    """The projections' zeros as asked; every other tensor as it was."""
    bad = []
    for name, (kind, data, shape) in got.items():
        bkind, bdata, _ = base[name]
        if kind != bkind:
            bad.append(f"{name} {bkind} -> {kind}")
            continue
        if not any(f".{p}.weight" in name for p in PROJECTIONS):
            if not np.array_equal(bdata.view(np.uint8), data.view(np.uint8)):
                bad.append(f"{name} changed")
            continue
        rows = data.reshape(-1, shape[0]).astype(np.float32)
        zeros = rows == 0
        if "--pattern" in args:
            groups = zeros.reshape(rows.shape[0], -1, 4).sum(axis=2)
            if not np.all(groups >= 2):
                bad.append(f"{name}: a group of 4 keeps more than 2")
        elif method == "wanda":
            if not np.all(zeros.sum(axis=1) >= rows.shape[1] // 2):
                bad.append(f"{name}: a row keeps more than half")
        else:
            if zeros.sum() < rows.size // 2:
                bad.append(f"{name}: {zeros.sum()} zeros of {rows.size}")
    rep.check(not bad, f"{label}: projections pruned as asked, other tensors and types unchanged", "; ".join(bad[:3]))


def figures(rep, binary, binaries, tmp, model, calib, evalf, check, label):
    rows = []
    base_ppl, why = llama_ppl(binaries, model, evalf)
    rep.check(base_ppl is not None, f"{label} dense: llama-perplexity runs", why)
    rows.append(("dense", "-", base_ppl, None, None, None))
    base = tensors(model) if check else None
    only = os.environ.get("AICOMPRESS_PRUNE_METHODS")
    for method, args in CASES:
        if only and method not in only.split(","):
            continue
        what = "50%" if "--keep" in args else args[-1]
        out = os.path.join(tmp, f"{label}-{method}-{what.replace(':', 'of').replace('%', '')}.gguf")
        ok, secs, rss, msg = prune(binary, model, out, method, args, calib)
        if not rep.check(ok, f"{label} {method} {what}: aicompress prune runs", "" if ok else msg):
            continue
        ppl, why = llama_ppl(binaries, out, evalf)
        if not rep.check(ppl is not None, f"{label} {method} {what}: llama-perplexity loads and runs it", why):
            continue
        mine, why = ours_ppl(binary, out, evalf)
        if rep.check(mine is not None, f"{label} {method} {what}: aicompress evaluate runs", why):
            r = abs(mine - ppl) / ppl
            rep.check(r <= 0.01, f"{label} {method} {what}: evaluate within 1% of llama-perplexity", f"{mine:.4f} vs {ppl:.4f}")
        if check:
            check_sparsity(rep, f"{label} {method} {what}", base, tensors(out), method, args)
            if (method, what) in REPEAT:
                again = out[:-len(".gguf")] + "-again.gguf"  # the format comes from the extension
                ok2, _, _, msg = prune(binary, model, again, method, args, calib)
                same = ok2 and open(out, "rb").read() == open(again, "rb").read()
                rep.check(same, f"{label} {method} {what}: two runs give the same bytes", msg if not ok2 else "")
                if os.path.exists(again):
                    os.remove(again)
        rows.append((method, what, ppl, mine, secs, rss))
    print(f"\n{label}: perplexity on {os.path.basename(evalf)} (llama-perplexity -c {CONTEXT} --chunks {CHUNKS}), calibration "
          f"{CALIB_SEQUENCES} x {CALIB_TOKENS} tokens of {os.path.basename(calib)}")
    print(f"{'method':<10} {'sparsity':<8} {'llama PPL':>10} {'ours':>10} {'x dense':>8} {'prune s':>8} {'RSS MiB':>8}")
    for method, what, ppl, mine, secs, rss in rows:
        ratio = f"{ppl / base_ppl:.3f}" if ppl and base_ppl else "-"
        print(f"{method:<10} {what:<8} {ppl or float('nan'):>10.3f} {mine or float('nan'):>10.3f} {ratio:>8} "
              f"{secs or float('nan'):>8.1f} {rss or float('nan'):>8.0f}")
    return rows


def main():
    argv = sys.argv[1:]
    keep = "--keep" in argv
    opts = {}
    for key in ("--model", "--calib", "--eval"):
        if key in argv:
            opts[key] = argv[argv.index(key) + 1]
    args = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] not in opts)]
    rep = Report()
    if os.environ.get("AICOMPRESS_SKIP_LLAMA") == "1":
        print("llm_prune: skipped (AICOMPRESS_SKIP_LLAMA=1)")
        return rep.finish()
    binary = executable(rep, args[0] if args else os.path.join(ROOT, ".build", "debug", "aicompress"))
    if binary is None:
        return rep.finish()
    try:
        import gguf  # noqa: F401
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        pip_install("gguf", "numpy", "safetensors", "tokenizers")
    binaries = llama_binaries(rep)
    if binaries is None:
        return rep.finish()
    with scratch_folder("aicompress-llm-prune-", keep) as tmp:
        if opts:
            figures(rep, binary, binaries, tmp, opts["--model"], opts["--calib"], opts["--eval"], False,
                    os.path.basename(opts["--model"]))
            return rep.finish()
        r = run([sys.executable, os.path.join(ROOT, "fixtures", "llm", "make_tiny_llama.py"), tmp])
        if not rep.check(r.returncode == 0, "make_tiny_llama.py", r.stderr.strip()[-200:]):
            return rep.finish()
        calib, evalf = split_text(os.path.join(tmp, "text.txt"), tmp, "tiny")
        figures(rep, binary, binaries, tmp, os.path.join(tmp, "tiny-llama-f32.gguf"), calib, evalf, True, "tiny-llama-f32")
        # F16 in, F16 out.
        f16 = os.path.join(tmp, "tiny-llama-f16.gguf")
        out = os.path.join(tmp, "f16-wanda.gguf")
        ok, _, _, msg = prune(binary, f16, out, "wanda", ["--keep", "0.5"], calib)
        if rep.check(ok, "tiny-llama-f16 wanda 50%: aicompress prune runs", msg if not ok else ""):
            check_sparsity(rep, "tiny-llama-f16 wanda 50%", tensors(f16), tensors(out), "wanda", ["--keep"])
            ppl, why = llama_ppl(binaries, out, evalf)
            rep.check(ppl is not None, "tiny-llama-f16 wanda 50%: llama-perplexity loads and runs it", why)
        # A Hugging Face checkpoint, pruned straight to GGUF.
        hf = os.path.join(tmp, "hf")
        os.makedirs(hf, exist_ok=True)
        r = run([sys.executable, os.path.join(ROOT, "fixtures", "llm", "make_hf_llama.py"), hf])
        if rep.check(r.returncode == 0, "make_hf_llama.py", r.stderr.strip()[-200:]):
            hcalib, heval = split_text(os.path.join(hf, "text.txt"), tmp, "hf")
            out = os.path.join(tmp, "hf-wanda.gguf")
            cmd = [binary, "prune", "--quiet", "--method", "wanda", "--keep", "0.5", "--calibration", hcalib,
                   "--calibration-tokens", "64", "--calibration-chunks", "8", os.path.join(hf, "llama"), out]
            r = run(cmd)
            if rep.check(r.returncode == 0, "hf llama wanda 50% to GGUF: aicompress prune runs", r.stderr.strip()[-300:]):
                ppl, why = llama_ppl(binaries, out, heval)
                if rep.check(ppl is not None, "hf llama wanda 50%: llama-perplexity loads and runs it", why):
                    mine, why = ours_ppl(binary, out, heval)
                    ok = mine is not None and abs(mine - ppl) / ppl <= 0.01
                    rep.check(ok, "hf llama wanda 50%: evaluate within 1% of llama-perplexity", f"{mine} vs {ppl:.4f} {why}")
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
