#!/usr/bin/env python3
"""llama.cpp as the judge of `aicompress quantize --gguf`.

Usage: llama_cpp.py [BIN] [--keep]   (BIN default .build/debug/aicompress)

Gets llama.cpp's tools from scripts/llama-cpp.sh (builds them from the llama-cpp-python sdist
into a cache outside the clone when absent, about 9 minutes on 2 cores; LLAMA_CPP_BIN=DIR uses the
binaries in DIR instead), makes the tiny LLaMA models of fixtures/llm/make_tiny_llama.py and its
text, then for every case (model, TYPE, --pure or not) runs
    llama-quantize [--pure] in.gguf ref.gguf TYPE
    BIN quantize --gguf TYPE [--pure] in.gguf ours.gguf
and checks with gguf-py (GGUFReader): the same tensors in the same order with the same dims and
the same ggml type each; the same tensor bytes (bit-exact); ours no larger than ref; both run in
llama-perplexity on the text and their perplexities are within 1% of each other. A case whose
`quantize --gguf` is missing from BIN prints one FAIL line. The comparison itself is checked
first, on llama-quantize's files only: a file against itself must be equal, Q4_K against Q5_K
must differ in types, and Q4_0 from the F32 model against Q4_0 from the F16 model must differ in
bytes with the same types. Prints a table of sizes and perplexities, one PASS/FAIL line per check,
then `N passed, M failed`; exit 1 on any failure. The low-bit mixes (Q2_K, Q3_K_S/M/L) run the
same cases; Q2_K_S without an imatrix must be refused by both (ours: exit 64, one line).
Then the importance-matrix cases (llama_imatrix.py): llama-quantize --imatrix against quantize --gguf
--imatrix, bit-exact per tensor for every type, our `imatrix` command against llama-imatrix, and
quantize --save-imatrix (its file is the imatrix command's, and llama-quantize --imatrix of it gives our tensors).
AICOMPRESS_SKIP_LLAMA=1 skips the lane (one line saying so, `0 passed, 0 failed`, exit 0).
"""
import importlib
import os
import re
import subprocess
import sys
import time

import llama_imatrix
from common import Report, executable, scratch_folder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PURE_TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL"]
MIXES = ["Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"]
# The low-bit mixes (Q2_K_S needs an imatrix: llama_imatrix.py, and its refusal below).
LOW_BIT_MIXES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L"]
F32, F16, FF352 = "tiny-llama-f32.gguf", "tiny-llama-f16.gguf", "tiny-llama-ff352-f32.gguf"
FF360 = "tiny-llama-ff360-f32.gguf"
# Made in the lane from F32 by llama-quantize BF16 (make_tiny_llama.py writes F32 and F16 only).
BF16 = "tiny-llama-bf16.gguf"
# (model, TYPE, pure): every type pure and every mix on the F32 model; the mixes and the pure
# K-quants again on the model whose ffn_down rows (352) need the fallback types; Q4_K_M from F16;
# a 32-value type and a mix on the model whose ffn_down rows (360) fit no block: F16 there.
CASES = ([(F32, t, True) for t in PURE_TYPES] + [(F32, t, False) for t in MIXES]
         + [(FF352, t, True) for t in ["Q4_K", "Q5_K", "Q6_K"]] + [(FF352, t, False) for t in MIXES]
         + [(F16, "Q4_K_M", False), (FF360, "Q4_0", False), (FF360, "Q4_K_M", False)])


def iq4_xs_cases():
    """IQ4_XS (quantize_iq4_xs, 256-value super-blocks): pure and as llama-quantize's IQ4_XS file
    type (ffn_down Q5_K on the first eighth of the layers, output Q6_K) on the F32 model, and on
    the ff352 model where ffn_down's 352-wide rows fall back to IQ4_NL."""
    return [(F32, "IQ4_XS", True), (F32, "IQ4_XS", False), (FF352, "IQ4_XS", True), (FF352, "IQ4_XS", False)]


CASES += iq4_xs_cases()
# The low-bit mixes on the F32 model and on the ff352 model (ffn_down's Q3_K/Q4_K/Q5_K fall back
# to Q4_0/Q5_0/Q5_1 there); Q3_K_M from F16 and BF16, Q2_K from BF16.
CASES += ([(F32, t, False) for t in LOW_BIT_MIXES] + [(FF352, t, False) for t in LOW_BIT_MIXES]
          + [(F16, "Q3_K_M", False), (BF16, "Q3_K_M", False), (BF16, "Q2_K", False)])
PPL_TOLERANCE = 0.01
PPL_ARGS = ["-c", "128", "--chunks", "16", "-t", "2"]


def pip_install(*packages):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
                   check=True, env=dict(os.environ, PIP_ROOT_USER_ACTION="ignore"))


def llama_binaries(rep):
    """The folder with llama-quantize and llama-perplexity, or None after a FAIL line."""
    folder = os.environ.get("LLAMA_CPP_BIN")
    if not folder:
        r = subprocess.run([os.path.join(ROOT, "scripts", "llama-cpp.sh")], stdout=subprocess.PIPE, text=True)
        lines = r.stdout.strip().splitlines()
        if r.returncode != 0 or not lines:
            rep.check(False, "llama.cpp build (scripts/llama-cpp.sh)", f"exit {r.returncode}")
            return None
        folder = lines[-1]
    ok = all(os.access(os.path.join(folder, t), os.X_OK) for t in ("llama-quantize", "llama-perplexity"))
    rep.check(ok, "llama.cpp binaries", folder)
    return folder if ok else None


def describe(path):
    """[(name, ggml type name, dims, data bytes)] of a GGUF file, in file order."""
    import gguf
    reader = gguf.GGUFReader(path)
    return [(t.name, t.tensor_type.name, tuple(int(d) for d in t.shape), t.data.tobytes()) for t in reader.tensors]


def compare(ref, ours):
    """(types_equal, bytes_equal, detail) of two GGUF files' tensors, matched by name (llama-quantize
    writes them sorted by layer, we keep the input's order; the order carries no meaning): the same
    names, and per name the same dims, type and bytes."""
    a = {t[0]: t for t in describe(ref)}
    b = {t[0]: t for t in describe(ours)}
    if set(a) != set(b):
        return False, False, f"tensor names differ: only in llama-quantize's {sorted(set(a) - set(b))[:3]}, only in ours {sorted(set(b) - set(a))[:3]}"
    for name in sorted(a):
        (_, ta, da, _), (_, tb, db, _) = a[name], b[name]
        if (ta, da) != (tb, db):
            return False, False, f"{name}: {ta} {list(da)} vs {tb} {list(db)}"
    for name in sorted(a):
        (_, ta, _, xa), (_, _, _, xb) = a[name], b[name]
        if xa != xb:
            first = next(i for i, (p, q) in enumerate(zip(xa, xb)) if p != q) if len(xa) == len(xb) else 0
            return True, False, f"{name} ({ta}): {len(xa)} vs {len(xb)} bytes, first difference at byte {first}"
    return True, True, ""


def tensor_bytes(path):
    """Bytes of tensor data in a GGUF file (what a quantization decides; metadata aside)."""
    return sum(len(t[3]) for t in describe(path))


def type_counts(path):
    counts = {}
    for _, t, _, _ in describe(path):
        counts[t] = counts.get(t, 0) + 1
    return ", ".join(f"{t} {n}" for t, n in sorted(counts.items()))


def llama_quantize(binaries, model, out, qtype, pure):
    """Runs llama-quantize; returns (ok, seconds, last output line)."""
    args = [os.path.join(binaries, "llama-quantize")] + (["--pure"] if pure else []) + [model, out, qtype, "2"]
    start = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True)
    tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or [""]
    return r.returncode == 0 and os.path.exists(out), time.monotonic() - start, tail[0]


def perplexity(binaries, model, text):
    """llama-perplexity's final PPL of `model` on `text`, or (None, why).

    llama.cpp's logger writes from a thread that the program does not flush before it exits
    (common/log.cpp, common_log_main), so on a busy machine the closing lines, the final estimate
    among them, were sometimes lost from a run that succeeded. scripts/llama-cpp.sh now adds a
    drain at exit to the build; a binary built without it is still handled: such a run is
    repeated (the result is deterministic), up to five times. The running estimate after the last chunk (`[16]…`) is
    the final estimate too, printed earlier: it serves when only the closing line is lost.
    """
    chunks = PPL_ARGS[PPL_ARGS.index("--chunks") + 1]
    for _ in range(5):
        r = subprocess.run([os.path.join(binaries, "llama-perplexity"), "-m", model, "-f", text, *PPL_ARGS],
                           capture_output=True, text=True)
        log = r.stdout + r.stderr
        m = re.search(r"Final estimate: PPL = ([0-9.]+)", log) or re.search(rf"\[{chunks}\]([0-9.]+)", log)
        if m or r.returncode != 0:
            break
    if r.returncode != 0 or not m:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or [""]
        return None, f"exit {r.returncode}: {tail[0]}"
    return float(m.group(1)), ""


def has_gguf_quantize(binary):
    """Whether BIN's `quantize` takes --gguf (the command is new; older binaries lack it)."""
    r = subprocess.run([binary, "quantize", "--help"], capture_output=True, text=True)
    return "--gguf" in r.stdout + r.stderr


def self_test(rep, binaries, tmp):
    """The comparison must see equality, a type difference and a byte difference where they are."""
    q40 = os.path.join(tmp, "self-q4_0-f32.gguf")
    q40h = os.path.join(tmp, "self-q4_0-f16.gguf")
    q5k = os.path.join(tmp, "self-q5_k.gguf")
    q4k = os.path.join(tmp, "self-q4_k.gguf")
    ok = all(llama_quantize(binaries, os.path.join(tmp, m), out, t, True)[0]
             for m, out, t in [(F32, q40, "Q4_0"), (F16, q40h, "Q4_0"), (F32, q5k, "Q5_K"), (F32, q4k, "Q4_K")])
    if not rep.check(ok, "comparison self-test: llama-quantize made its four files"):
        return
    types_eq, bytes_eq, _ = compare(q4k, q4k)
    rep.check(types_eq and bytes_eq, "comparison self-test: a file equals itself")
    types_eq, _, detail = compare(q4k, q5k)
    rep.check(not types_eq, "comparison self-test: Q4_K vs Q5_K differ in types", detail)
    types_eq, bytes_eq, detail = compare(q40, q40h)
    rep.check(types_eq and not bytes_eq, "comparison self-test: Q4_0 from F32 vs from F16 differ in bytes only", detail)


def run_case(rep, binary, binaries, tmp, model, qtype, pure, rows):
    label = f"{qtype}{' --pure' if pure else ''} on {model}"
    stem = f"{model.split('.')[0]}-{qtype}{'-pure' if pure else ''}"
    ref, ours = os.path.join(tmp, stem + "-ref.gguf"), os.path.join(tmp, stem + "-ours.gguf")
    src, text = os.path.join(tmp, model), os.path.join(tmp, "text.txt")
    ok, seconds, tail = llama_quantize(binaries, src, ref, qtype, pure)
    if not rep.check(ok, f"{label}: llama-quantize", tail if not ok else ""):
        return
    ppl_ref, why = perplexity(binaries, ref, text)
    rep.check(ppl_ref is not None, f"{label}: llama-perplexity runs on llama-quantize's file", why)
    row = {"case": label, "ref_bytes": os.path.getsize(ref), "ref_ppl": ppl_ref, "ref_s": seconds,
           "types": type_counts(ref)}
    rows.append(row)
    if binary is None:
        rep.check(False, f"{label}: aicompress quantize --gguf", "BIN has no `quantize --gguf` yet")
        return
    args = [binary, "quantize", "--gguf", qtype] + (["--pure"] if pure else []) + [src, ours]
    r = subprocess.run(args, capture_output=True, text=True)
    if not rep.check(r.returncode == 0 and os.path.exists(ours), f"{label}: aicompress quantize --gguf",
                     f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}" if r.returncode else ""):
        return
    types_eq, bytes_eq, detail = compare(ref, ours)
    rep.check(types_eq, f"{label}: per-tensor types and dims equal llama-quantize's", detail if not types_eq else "")
    rep.check(bytes_eq, f"{label}: tensor bytes equal llama-quantize's (bit-exact)", detail if types_eq else "")
    size = os.path.getsize(ours)
    row["ours_bytes"] = size
    # Tensor data no larger; the file as a whole carries our provenance keys (aicompress.*) on top,
    # a few hundred bytes, reported alongside.
    ours_data, ref_data = tensor_bytes(ours), tensor_bytes(ref)
    rep.check(ours_data <= ref_data, f"{label}: tensor data no larger than llama-quantize's",
              f"{ours_data} vs {ref_data} bytes of tensor data; files {size} vs {row['ref_bytes']} bytes "
              f"(+{size - row['ref_bytes']} of provenance metadata)")
    ppl_ours, why = perplexity(binaries, ours, text)
    row["ours_ppl"] = ppl_ours
    if rep.check(ppl_ours is not None, f"{label}: llama-perplexity runs on ours", why) and ppl_ref is not None:
        rel = abs(ppl_ours - ppl_ref) / ppl_ref
        rep.check(rel <= PPL_TOLERANCE, f"{label}: perplexity within 1% of llama-quantize's",
                  f"{ppl_ours:.4f} vs {ppl_ref:.4f} ({100 * rel:.3f}%)")


def check_q2_k_s_refused(rep, binary, binaries, tmp):
    """Q2_K_S without an imatrix: llama-quantize refuses it, and so do we (exit 64, one line)."""
    src = os.path.join(tmp, F32)
    ref = subprocess.run([os.path.join(binaries, "llama-quantize"), src, os.path.join(tmp, "q2ks-ref.gguf"), "Q2_K_S"],
                         capture_output=True, text=True)
    rep.check(ref.returncode != 0 and "requires an imatrix" in ref.stdout + ref.stderr,
              "Q2_K_S without --imatrix: llama-quantize refuses it", f"exit {ref.returncode}")
    ours = os.path.join(tmp, "q2ks-ours.gguf")
    r = subprocess.run([binary, "quantize", "--gguf", "Q2_K_S", src, ours], capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    rep.check(r.returncode == 64 and len(lines) == 1 and "importance matrix" in r.stderr and not os.path.exists(ours),
              "Q2_K_S without --imatrix: aicompress refuses it (exit 64, one line, no file)",
              f"exit {r.returncode}: {r.stderr.strip()[-200:]}")


def print_table(rows):
    print("case | llama-quantize bytes | its PPL | its seconds | ours bytes | our PPL | llama-quantize's types")
    for r in rows:
        ref_ppl = f"{r['ref_ppl']:.4f}" if r["ref_ppl"] is not None else "-"
        ours_ppl = f"{r['ours_ppl']:.4f}" if r.get("ours_ppl") is not None else "-"
        print(f"{r['case']} | {r['ref_bytes']} | {ref_ppl} | {r['ref_s']:.3f} | {r.get('ours_bytes', '-')} | "
              f"{ours_ppl} | {r['types']}")


def start_lane(rep, lane, modules, packages):
    """(BIN, llama.cpp's binary folder) of a lane run as `LANE.py [BIN] [--keep]`, with `packages`
    pip-installed when one of `modules` does not import; None for either after its FAIL line, and
    (None, None) after a SKIP line when AICOMPRESS_SKIP_LLAMA=1."""
    if os.environ.get("AICOMPRESS_SKIP_LLAMA") == "1":
        print(f"SKIP {lane}: AICOMPRESS_SKIP_LLAMA=1 (llama.cpp is not built or run)")
        return None, None
    args = [a for a in sys.argv[1:] if a != "--keep"]
    binary = executable(rep, args[0] if args else os.path.join(ROOT, ".build", "debug", "aicompress"))
    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError:
        pip_install(*packages)
    return binary, llama_binaries(rep)


def main():
    rep = Report()
    binary, binaries = start_lane(rep, "llama_cpp", ["gguf"], ["gguf", "numpy"])
    if binary is None or binaries is None:
        return rep.finish()
    gguf_cli = binary if has_gguf_quantize(binary) else None
    with scratch_folder("aicompress-llama-", keep="--keep" in sys.argv) as tmp:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "fixtures", "llm", "make_tiny_llama.py"), tmp],
                           capture_output=True, text=True)
        if not rep.check(r.returncode == 0, "fixtures/llm/make_tiny_llama.py", r.stderr.strip()[-300:]):
            return rep.finish()
        ppl_float, why = perplexity(binaries, os.path.join(tmp, F32), os.path.join(tmp, "text.txt"))
        rep.check(ppl_float is not None, f"llama-perplexity runs on {F32}",
                  f"PPL {ppl_float:.4f}" if ppl_float is not None else why)
        r = subprocess.run([os.path.join(binaries, "llama-quantize"), os.path.join(tmp, F32), os.path.join(tmp, BF16), "BF16"],
                           capture_output=True, text=True)
        rep.check(r.returncode == 0, f"llama-quantize BF16 makes {BF16}", (r.stderr or r.stdout).strip()[-200:])
        self_test(rep, binaries, tmp)
        if gguf_cli is not None:
            check_q2_k_s_refused(rep, gguf_cli, binaries, tmp)
        rows = []
        for model, qtype, pure in CASES:
            run_case(rep, gguf_cli, binaries, tmp, model, qtype, pure, rows)
        print_table(rows)
        if gguf_cli is not None:
            llama_imatrix.run(rep, sys.modules[__name__], gguf_cli, binaries, tmp, F32, FF352)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
