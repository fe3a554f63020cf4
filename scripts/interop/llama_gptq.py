#!/usr/bin/env python3
"""llama.cpp as the judge of `aicompress quantize --gguf TYPE --method gptq|awq`.

Usage: llama_gptq.py [BIN] [--keep] [--method gptq|awq]   (BIN default .build/debug/aicompress; both methods by default)

Makes the tiny LLaMA model of fixtures/llm/make_tiny_llama.py, splits its text into a calibration
part (the first 60%) and an evaluation part (the rest), then for Q4_0 and Q4_K_M, and METHOD gptq
and awq, runs
    BIN quantize --gguf TYPE --method METHOD --calibration calib.txt in.gguf METHOD.gguf
    BIN quantize --gguf TYPE in.gguf rtn.gguf
and checks with gguf-py that each calibrated file has the round-to-nearest file's tensors, dims and ggml
types (so the same size), that llama-perplexity runs it, and that `aicompress evaluate` on it gives
a perplexity within 1% of llama-perplexity's. Prints (INFO) the mean KL divergence against the F32
model (llama-perplexity --kl-divergence) of each method and of round-to-nearest: the model's weights are
random, so these are figures, not a quality claim. AICOMPRESS_SKIP_LLAMA=1 skips the lane.
"""
import json
import os
import re
import subprocess
import sys

import llama_cpp
from common import Report, scratch_folder

ROOT = llama_cpp.ROOT
CONTEXT, CHUNKS = 128, 16
CALIBRATION = ["--calibration-tokens", "128", "--calibration-chunks", "8"]  # small: the lane runs a debug build


def ppl_log(binaries, model, text, extra=()):
    r = subprocess.run([os.path.join(binaries, "llama-perplexity"), "-m", model, "-f", text, "-c", str(CONTEXT), "-b", str(CONTEXT),
                        "--chunks", str(CHUNKS), "-t", "2", *extra], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def number(pattern, log):
    m = re.search(pattern, log)
    return float(m.group(1)) if m else None


def judge(rep, binary, binaries, method, qtype, f32, rtn, rkld, calib, evaluation, base, tmp):
    """One calibrated file against round to nearest (`rtn`, whose mean KLD is `rkld`)."""
    out = os.path.join(tmp, f"{method}-{qtype}.gguf")
    r = subprocess.run([binary, "quantize", "--gguf", qtype, "--method", method, "--calibration", calib, *CALIBRATION, "-q", f32, out],
                       capture_output=True, text=True)
    if not rep.check(r.returncode == 0, f"{qtype}: quantize --method {method} runs", r.stderr.strip()[-300:]):
        return
    ours, ref = llama_cpp.describe(out), llama_cpp.describe(rtn)
    rep.check([(n, d, t) for n, d, t, _ in ours] == [(n, d, t) for n, d, t, _ in ref],
              f"{qtype}: {method} file has round-to-nearest's tensors, dims and types", "")
    rc, log = ppl_log(binaries, out, evaluation, ["--kl-divergence-base", base, "--kl-divergence"])
    ppl = number(r"Mean PPL\(Q\)\s*:\s*([0-9.]+)", log)
    if not rep.check(rc == 0 and ppl is not None, f"{qtype}: llama-perplexity runs the {method} file", log.strip()[-200:]):
        return
    kld = number(r"Mean    KLD:\s*([0-9.]+)", log)
    r = subprocess.run([binary, "evaluate", out, "--text", evaluation, "--context", str(CONTEXT), "--chunks", str(CHUNKS), "--json"],
                       capture_output=True, text=True)
    if rep.check(r.returncode == 0, f"{qtype}: aicompress evaluate runs the {method} file", r.stderr.strip()[-300:]):
        p = json.loads(r.stdout)["perplexity"]["value"]
        rel = abs(p - ppl) / ppl
        rep.check(rel <= 0.01, f"{qtype}: evaluate's perplexity of the {method} file within 1% of llama-perplexity's",
                  f"{p:.4f} vs {ppl:.4f} ({100 * rel:.3f}%)")
    if kld is not None and rkld is not None:
        print(f"INFO {qtype} (random-weight tiny model): mean KLD {method} {kld:.6f}, round-to-nearest {rkld:.6f}, ratio {kld / max(rkld, 1e-12):.3f}")


def main():
    rep = Report()
    methods = ["gptq", "awq"]
    if "--method" in sys.argv:
        i = sys.argv.index("--method")
        methods = [sys.argv[i + 1]]
        del sys.argv[i:i + 2]
    binary, binaries = llama_cpp.start_lane(rep, "llama_gptq", ["gguf"], ["gguf", "numpy"])
    if binary is None or binaries is None:
        return rep.finish()
    with scratch_folder("aicompress-gptq-", keep="--keep" in sys.argv) as tmp:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "fixtures", "llm", "make_tiny_llama.py"), tmp], capture_output=True, text=True)
        if not rep.check(r.returncode == 0, "fixtures/llm/make_tiny_llama.py", r.stderr.strip()[-300:]):
            return rep.finish()
        words = open(os.path.join(tmp, "text.txt"), encoding="utf-8").read().split(" ")
        cut = len(words) * 6 // 10
        calib, evaluation = os.path.join(tmp, "calib.txt"), os.path.join(tmp, "eval.txt")
        open(calib, "w", encoding="utf-8").write(" ".join(words[:cut]))
        open(evaluation, "w", encoding="utf-8").write(" ".join(words[cut:]))
        f32 = os.path.join(tmp, llama_cpp.F32)
        base = os.path.join(tmp, "base.kld")
        rc, log = ppl_log(binaries, f32, evaluation, ["--kl-divergence-base", base])
        if not rep.check(rc == 0, "llama-perplexity saves the F32 model's logits", log.strip()[-200:] if rc else ""):
            return rep.finish()
        for qtype in ["Q4_0", "Q4_K_M"]:
            rtn = os.path.join(tmp, f"rtn-{qtype}.gguf")
            r = subprocess.run([binary, "quantize", "--gguf", qtype, "-q", f32, rtn], capture_output=True, text=True)
            if not rep.check(r.returncode == 0, f"{qtype}: quantize (round to nearest) runs", r.stderr.strip()[-300:]):
                continue
            rc, log = ppl_log(binaries, rtn, evaluation, ["--kl-divergence-base", base, "--kl-divergence"])
            rkld = number(r"Mean    KLD:\s*([0-9.]+)", log)
            for method in methods:
                judge(rep, binary, binaries, method, qtype, f32, rtn, rkld, calib, evaluation, base, tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
