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
a perplexity within 1% of llama-perplexity's. GPTQ runs twice: with its default `--head auto` (output.weight
calibrated past the last block and put through GPTQ) and with `--head rtn`; and once more, head included, on a tied copy
of the model (output.weight dropped, token_embd := output.weight: token_embd is then the head, listed
first and written last), judged the same way against that copy's F32 logits. Prints (INFO) the mean KL divergence against the F32
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


def tied_copy(src, dst):
    """`src` without output.weight and with token_embd := output.weight (a tied model), via gguf-py."""
    import gguf
    import numpy as np
    r = gguf.GGUFReader(src)
    arch = r.fields["general.architecture"]
    w = gguf.GGUFWriter(dst, bytes(arch.parts[arch.data[0]]).decode())
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        t = f.types[0]
        if t == gguf.GGUFValueType.ARRAY:
            sub = f.types[1]
            decode = (lambda i: bytes(f.parts[i]).decode("utf-8", "surrogateescape")) if sub == gguf.GGUFValueType.STRING \
                else (lambda i: f.parts[i].tolist()[0])
            w.add_key_value(name, [decode(i) for i in f.data], t, sub_type=sub)
        elif t == gguf.GGUFValueType.STRING:
            w.add_key_value(name, bytes(f.parts[f.data[0]]).decode("utf-8"), t)
        else:
            w.add_key_value(name, f.parts[f.data[0]].tolist()[0], t)
    head = next(np.array(t.data) for t in r.tensors if t.name == "output.weight")
    for t in r.tensors:
        if t.name != "output.weight":
            w.add_tensor(t.name, head if t.name == "token_embd.weight" else np.array(t.data))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def judge(rep, binary, binaries, method, qtype, f32, rtn, rkld, calib, evaluation, base, tmp, extra=(), label=None):
    """One calibrated file against round to nearest (`rtn`, whose mean KLD is `rkld`)."""
    label = label or method
    out = os.path.join(tmp, f"{label.replace(' ', '_')}-{qtype}.gguf")
    r = subprocess.run([binary, "quantize", "--gguf", qtype, "--method", method, *extra, "--calibration", calib, *CALIBRATION, "-q", f32, out],
                       capture_output=True, text=True)
    method = label
    if not rep.check(r.returncode == 0, f"{qtype}: quantize --method {method} runs", r.stderr.strip()[-300:]):
        return
    ours, ref = llama_cpp.describe(out), llama_cpp.describe(rtn)
    # By name: GPTQ's head is written after the blocks.
    rep.check(sorted((n, d, t) for n, d, t, _ in ours) == sorted((n, d, t) for n, d, t, _ in ref),
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
                if method == "gptq":
                    judge(rep, binary, binaries, method, qtype, f32, rtn, rkld, calib, evaluation, base, tmp,
                          ["--head", "rtn"], "gptq --head rtn")
        if "gptq" in methods:
            # A tied model: token_embd is the head (and the lookup); judged against its own F32 logits.
            tied, tied_base = os.path.join(tmp, "tied-f32.gguf"), os.path.join(tmp, "tied-base.kld")
            tied_copy(f32, tied)
            rc, log = ppl_log(binaries, tied, evaluation, ["--kl-divergence-base", tied_base])
            if rep.check(rc == 0, "llama-perplexity saves the tied F32 model's logits", log.strip()[-200:] if rc else ""):
                rtn = os.path.join(tmp, "rtn-tied-Q4_0.gguf")
                r = subprocess.run([binary, "quantize", "--gguf", "Q4_0", "-q", tied, rtn], capture_output=True, text=True)
                if rep.check(r.returncode == 0, "tied Q4_0: quantize (round to nearest) runs", r.stderr.strip()[-300:]):
                    rc, log = ppl_log(binaries, rtn, evaluation, ["--kl-divergence-base", tied_base, "--kl-divergence"])
                    rkld = number(r"Mean    KLD:\s*([0-9.]+)", log)
                    judge(rep, binary, binaries, "gptq", "Q4_0", tied, rtn, rkld, calib, evaluation, tied_base, tmp,
                          ["--head", "gptq"], "gptq tied")
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
