#!/usr/bin/env python3
"""Calibrated quantization and pruning on a trained model (issue 18 item 6): the data-aware methods
against their plain twins and against llama.cpp's own tools, judged by llama-perplexity's KL
divergence from the F32 model on evaluation text the calibration never saw. A benchmark, not a test:
not run in CI.

Model: scripts/make-trained-llama.py's output (default bench-data/trained-llama: hf/,
f32.gguf, calib.txt, eval.txt), a 4-layer LLaMA trained on CPython's documentation. Context: the
model's own (config.json max_position_embeddings, 128) for imatrix, calibration and evaluation.

Rows: F32 (the base); Q4_K_M without imatrix from llama-quantize and from aicompress; Q4_K_M with
llama-imatrix's file through llama-quantize, with aicompress imatrix's file through aicompress,
and each tool with the other's file; Q4_K_M `--method gptq`; Q4_0 round-to-nearest, with
aicompress's imatrix, `--method gptq` and `--method awq`; Q3_K_M, Q2_K, IQ4_XS and IQ4_NL round to
nearest, with each tool's imatrix and `--method gptq`; magnitude `prune --keep 0.5` and `--method
wanda|sparsegpt --keep 0.5`, and the three at `--pattern 2:4`. A row whose command this binary
refuses (a method another branch adds) prints the refusal instead of figures. Each row gives the
wall time and peak RSS of its command (os.wait4). Also checks that `aicompress evaluate` (of
f32.gguf and of the Hugging Face folder) agrees with llama-perplexity.

--only TEXT runs the rows whose label contains TEXT (repeatable); --gptq-args "ARGS" adds ARGS
(e.g. "--act-order --damp 0.1") to the gptq rows, for sweeps of GPTQ's settings.

Usage: bench-calibrated.py [BIN] [--model DIR] [--calib-chunks N] [--check-chunks N (0: skip)] [--keep-files DIR]
                           [--only TEXT]... [--gptq-args ARGS]
       (BIN default .build/debug/aicompress; pip install gguf)"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def option(args, name, default):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return default


def tensor_bytes(path):
    import gguf
    return sum(int(t.n_bytes) for t in gguf.GGUFReader(path).tensors)


class Judge:
    """llama-perplexity against the F32 model's saved logits."""

    def __init__(self, bins, f32, evaluation, ctx, tmp):
        self.bins, self.evaluation, self.ctx = bins, evaluation, ctx
        self.base = os.path.join(tmp, "base.kld")
        log = self.run([f"{bins}/llama-perplexity", "-m", f32, "-f", evaluation, "-c", ctx,
                        "--kl-divergence-base", self.base, "-t", "2"], "Final estimate")
        self.ppl = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log).groups()

    @staticmethod
    def run(cmd, marker):
        # llama.cpp's logger thread can lose the closing lines of a successful run (see
        # scripts/interop/llama_cpp.py): repeat, the result is deterministic.
        for _ in range(3):
            r = subprocess.run(cmd, capture_output=True, text=True)
            log = r.stdout + r.stderr
            if r.returncode == 0 and marker in log:
                return log
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}: " + "\n".join(log.strip().splitlines()[-5:]))

    def kld(self, path):
        log = self.run([f"{self.bins}/llama-perplexity", "-m", path, "-f", self.evaluation, "-c", self.ctx,
                        "--kl-divergence-base", self.base, "--kl-divergence", "-t", "2"], "Same top p")
        tail = log.split("====== Perplexity statistics ======")[-1]
        grab = lambda pattern: re.search(pattern, tail).groups()
        return {"ppl": grab(r"Mean PPL\(Q\)\s*:\s*([0-9.]+)\s*±\s*([0-9.]+)"),
                "kld": grab(r"Mean    KLD:\s*(-?[0-9.]+)\s*±\s*([0-9.]+)"),
                "p99": grab(r"99\.0%   KLD:\s*(-?[0-9.]+)")[0],
                "same": grab(r"Same top p:\s*([0-9.]+)\s*±\s*([0-9.]+)")}


def measure(cmd, log):
    """Runs `cmd` (stderr to `log`): exit code, wall seconds, the child's own peak RSS in MiB, stderr."""
    start = time.time()
    with open(log, "w") as err:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.time() - start
    return os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss / 1024, open(log).read()


def evaluate_ppl(binary, model, text, ctx, chunks):
    r = subprocess.run([binary, "evaluate", model, "--text", text, "--context", ctx, "--chunks", chunks, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return f"exit {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}"
    return json.loads(r.stdout)["perplexity"]["value"]


def main():
    args = sys.argv[1:]
    model = option(args, "--model", "bench-data/trained-llama")
    calib_chunks = option(args, "--calib-chunks", "64")
    keep = option(args, "--keep-files", None)
    check_chunks = option(args, "--check-chunks", "32")
    gptq_args = option(args, "--gptq-args", "").split()
    only = []
    while "--only" in args:
        only.append(option(args, "--only", None))
    binary = os.path.abspath(args[0]) if args else os.path.join(ROOT, ".build", "debug", "aicompress")
    bins = subprocess.run([os.path.join(ROOT, "scripts", "llama-cpp.sh")], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    hf, f32 = os.path.join(model, "hf"), os.path.join(model, "f32.gguf")
    calib, evaluation = os.path.join(model, "calib.txt"), os.path.join(model, "eval.txt")
    ctx = str(json.load(open(os.path.join(hf, "config.json")))["max_position_embeddings"])
    helps = {c: subprocess.run([binary, c, "--help"], capture_output=True, text=True).stdout for c in ("quantize", "prune")}

    tmp_holder = None if keep else tempfile.TemporaryDirectory()
    tmp = keep or tmp_holder.name
    os.makedirs(tmp, exist_ok=True)
    out = lambda name: os.path.join(tmp, name)
    run = lambda cmd: subprocess.run(cmd, check=True, capture_output=True, text=True)

    calibration = ["--calibration", calib]
    for flag, value in (("--calibration-tokens", ctx), ("--calibration-chunks", calib_chunks)):
        if flag in helps["quantize"] + helps["prune"]:
            calibration += [flag, value]
    extra = f" {' '.join(gptq_args)}" if gptq_args else ""
    q = lambda *extra: [binary, "quantize", *extra, f32, "{out}"]
    p = lambda *extra: [binary, "prune", *extra, f32, "{out}"]
    lq = f"{bins}/llama-quantize"
    rows = [
        ("Q4_K_M, llama-quantize", [lq, f32, "{out}", "Q4_K_M", "2"]),
        ("Q4_K_M, aicompress", q("--gguf", "Q4_K_M")),
        ("Q4_K_M, llama-quantize + llama-imatrix", [lq, "--imatrix", out("ref.imatrix"), f32, "{out}", "Q4_K_M", "2"]),
        ("Q4_K_M, aicompress + aicompress imatrix", q("--gguf", "Q4_K_M", "--imatrix", out("ours.imatrix"))),
        ("Q4_K_M, aicompress + llama-imatrix's file", q("--gguf", "Q4_K_M", "--imatrix", out("ref.imatrix"))),
        ("Q4_K_M, llama-quantize + aicompress imatrix's file", [lq, "--imatrix", out("ours.imatrix"), f32, "{out}", "Q4_K_M", "2"]),
        ("Q4_K_M, aicompress --method gptq" + extra, q("--gguf", "Q4_K_M", "--method", "gptq", *calibration, *gptq_args)),
        ("Q4_0, llama-quantize", [lq, f32, "{out}", "Q4_0", "2"]),
        ("Q4_0, aicompress (round to nearest)", q("--gguf", "Q4_0")),
        ("Q4_0, aicompress + aicompress imatrix", q("--gguf", "Q4_0", "--imatrix", out("ours.imatrix"))),
        ("Q4_0, aicompress --method gptq" + extra, q("--gguf", "Q4_0", "--method", "gptq", *calibration, *gptq_args)),
        ("Q4_0, aicompress --method awq", q("--gguf", "Q4_0", "--method", "awq", *calibration)),
    ]
    # The low-bit mixes and the IQ4 types: round to nearest, each tool with its own imatrix, GPTQ.
    for mix in ("Q3_K_M", "Q2_K", "IQ4_XS", "IQ4_NL"):
        rows += [
            (f"{mix}, aicompress (round to nearest)", q("--gguf", mix)),
            (f"{mix}, llama-quantize + llama-imatrix", [lq, "--imatrix", out("ref.imatrix"), f32, "{out}", mix, "2"]),
            (f"{mix}, aicompress + aicompress imatrix", q("--gguf", mix, "--imatrix", out("ours.imatrix"))),
            (f"{mix}, aicompress --method gptq" + extra, q("--gguf", mix, "--method", "gptq", *calibration, *gptq_args)),
        ]
    rows += [
        ("prune --keep 0.5 (magnitude)", p("--keep", "0.5")),
        ("prune --method wanda --keep 0.5", p("--method", "wanda", "--keep", "0.5", *calibration)),
        ("prune --method sparsegpt --keep 0.5", p("--method", "sparsegpt", "--keep", "0.5", *calibration)),
        ("prune --pattern 2:4 (magnitude)", p("--pattern", "2:4")),
        ("prune --method wanda --pattern 2:4", p("--method", "wanda", "--pattern", "2:4", *calibration)),
        ("prune --method sparsegpt --pattern 2:4", p("--method", "sparsegpt", "--pattern", "2:4", *calibration)),
    ]
    rows = [r for r in rows if not only or any(o in r[0] for o in only)]
    needs = lambda name: any(out(name) in r[1] for r in rows)
    if needs("ref.imatrix"):
        run([f"{bins}/llama-imatrix", "-m", f32, "-f", calib, "-o", out("ref.imatrix"), "-c", ctx, "--chunks", calib_chunks])
    if needs("ours.imatrix"):
        run([binary, "imatrix", f32, "--text", calib, "-o", out("ours.imatrix"), "--context", ctx, "--chunks", calib_chunks])
    judge = Judge(bins, f32, evaluation, ctx, tmp)
    print(f"model: {model} ({tensor_bytes(f32):,} tensor bytes F32); context {ctx}; calibration: "
          f"{calib_chunks} chunks of calib.txt; evaluation: all of eval.txt, -c {ctx}")
    print(f"binary: {binary}; llama.cpp: {bins}\n")
    if check_chunks != "0":
        # A debug build evaluates slowly: the agreement check runs on the first chunks only, both sides.
        log = Judge.run([f"{bins}/llama-perplexity", "-m", f32, "-f", evaluation, "-c", ctx, "--chunks", check_chunks,
                         "-t", "2"], "Final estimate")
        ref = float(re.search(r"Final estimate: PPL = ([0-9.]+)", log).group(1))
        print(f"F32 perplexity on the first {check_chunks} chunks: llama-perplexity {ref}")
        for label, path in (("f32.gguf", f32), ("hf/", hf)):
            value = evaluate_ppl(binary, path, evaluation, ctx, check_chunks)
            agree = f" ({100 * (value / ref - 1):+.4f}%)" if isinstance(value, float) else ""
            print(f"  aicompress evaluate {label}: {value}{agree}")
        print()
    print("| file | tensor bytes | mean KLD | 99th pct KLD | same top token | PPL | seconds | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| F32 (base) | {tensor_bytes(f32):,} | 0 | 0 | 100% | {judge.ppl[0]} ± {judge.ppl[1]} | | |")
    for i, (label, cmd) in enumerate(rows):
        path = out(f"row{i}.gguf")
        code, seconds, rss, err = measure([c.replace("{out}", path) for c in cmd], out(f"row{i}.log"))
        if code != 0:
            why = (err.strip().splitlines() or ["(no message)"])[0][:160].replace("|", "/")
            print(f"| {label} | not run: exit {code}: {why} | | | | | | |")
            continue
        m = judge.kld(path)
        print(f"| {label} | {tensor_bytes(path):,} | {m['kld'][0]} ± {m['kld'][1]} | {m['p99']} | "
              f"{m['same'][0]} ± {m['same'][1]}% | {m['ppl'][0]} ± {m['ppl'][1]} | {seconds:.1f} | {rss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
