#!/usr/bin/env python3
"""Importance-matrix quality (issue 18 item 6, first part): Q4_K_M with an importance matrix made
by `aicompress imatrix` against llama-quantize with llama-imatrix's, judged by llama-perplexity's
mean KL divergence from the F32 model on text distinct from the calibration text.

Model: fixtures/llm/make_tiny_llama.py's tiny-llama-f32.gguf (random weights: no real LLaMA
model ships in a PyPI package this checkout uses). Its text.txt is cut at a line boundary: the
first half calibrates, the second half evaluates. Rows: no imatrix (both tools, bit-identical);
llama-quantize --imatrix llama-imatrix's file; ours with llama-imatrix's file; ours with ours.

Usage: bench-imatrix-kl.py [BIN] [--chunks N]   (BIN default .build/debug/aicompress)"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTX = "128"


def main():
    args = [a for a in sys.argv[1:]]
    chunks = "32"
    if "--chunks" in args:
        i = args.index("--chunks")
        chunks = args[i + 1]
        del args[i:i + 2]
    binary = args[0] if args else os.path.join(ROOT, ".build", "debug", "aicompress")
    bins = subprocess.run([os.path.join(ROOT, "scripts", "llama-cpp.sh")], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    tool = lambda name: os.path.join(bins, name)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(ROOT, "fixtures", "llm", "make_tiny_llama.py"), tmp], check=True,
                       stdout=subprocess.DEVNULL)
        f32 = os.path.join(tmp, "tiny-llama-f32.gguf")
        lines = open(os.path.join(tmp, "text.txt"), encoding="utf-8").read().splitlines(keepends=True)
        calib, evaluation = os.path.join(tmp, "calib.txt"), os.path.join(tmp, "eval.txt")
        open(calib, "w", encoding="utf-8").write("".join(lines[: len(lines) // 2]))
        open(evaluation, "w", encoding="utf-8").write("".join(lines[len(lines) // 2:]))
        run = lambda cmd: subprocess.run(cmd, check=True, capture_output=True, text=True)
        ref_im, our_im = os.path.join(tmp, "ref.imatrix"), os.path.join(tmp, "ours.imatrix")
        run([tool("llama-imatrix"), "-m", f32, "-f", calib, "-o", ref_im, "-c", CTX, "--chunks", chunks])
        run([binary, "imatrix", f32, "--text", calib, "-o", our_im, "--context", CTX, "--chunks", chunks])
        files = {
            "Q4_K_M, no imatrix (llama-quantize = ours)": [tool("llama-quantize"), f32, "{out}", "Q4_K_M", "2"],
            "Q4_K_M, llama-quantize + llama-imatrix": [tool("llama-quantize"), "--imatrix", ref_im, f32, "{out}", "Q4_K_M", "2"],
            "Q4_K_M, aicompress + llama-imatrix's file": [binary, "quantize", "--gguf", "Q4_K_M", "--imatrix", ref_im, f32, "{out}"],
            "Q4_K_M, aicompress + aicompress imatrix": [binary, "quantize", "--gguf", "Q4_K_M", "--imatrix", our_im, f32, "{out}"],
        }
        base = os.path.join(tmp, "base.kld")
        run([tool("llama-perplexity"), "-m", f32, "-f", evaluation, "-c", CTX, "--kl-divergence-base", base, "-t", "2"])
        print(f"calibration: {chunks} chunks of {CTX} tokens of the first half; evaluation: the second half, -c {CTX}")
        print("| file | tensor bytes | mean KLD | 99th pct KLD | same top token |")
        print("|---|---:|---:|---:|---:|")
        for i, (label, cmd) in enumerate(files.items()):
            out = os.path.join(tmp, f"q{i}.gguf")
            run([c.replace("{out}", out) for c in cmd])
            # llama.cpp's logger thread can lose the closing lines of a successful run (see
            # scripts/interop/llama_cpp.py, perplexity()): repeat, the result is deterministic.
            for _ in range(3):
                r = subprocess.run([tool("llama-perplexity"), "-m", out, "-f", evaluation, "-c", CTX, "--kl-divergence-base",
                                    base, "--kl-divergence", "-t", "2"], capture_output=True, text=True)
                log = r.stdout + r.stderr
                kld = re.search(r"Mean    KLD:\s*([0-9.]+)\s*±\s*([0-9.]+)", log)
                if kld and "Same top p" in log.split("Mean    KLD")[-1]:
                    break
            if not kld:
                sys.exit(f"{label}: llama-perplexity exit {r.returncode}: " + "\n".join(log.strip().splitlines()[-5:]))
            p99 = re.search(r"99\.0%   KLD:\s*([0-9.]+)", log)
            same = re.search(r"Same top p:\s*([0-9.]+)", log.split("Mean    KLD")[-1])
            import gguf
            size = sum(len(t.data.tobytes()) for t in gguf.GGUFReader(out).tensors)
            print(f"| {label} | {size:,} | {kld.group(1)} ± {kld.group(2)} | {p99.group(1) if p99 else '-'} | "
                  f"{same.group(1) + '%' if same else '-'} |")


main()
