"""The importance-matrix cases of the llama_cpp lane (imported by llama_cpp.py).

1. llama-imatrix on a tiny model and its text makes IMATRIX; for every case
       llama-quantize --imatrix IMATRIX [--pure] [--tensor-type ...] in.gguf ref.gguf TYPE
       BIN quantize --gguf TYPE --imatrix IMATRIX [--pure] [--tensor-type ...] in.gguf ours.gguf
   must give the same tensors, types and bytes (gguf-py), and differ in bytes from the same
   case without an imatrix (so the weights are used at all).
2. BIN imatrix MODEL --text TEXT (same context and chunks) against llama-imatrix's file: the same
   entry names, per entry the same counts, in_sum2 within a relative tolerance (float summation
   order differs), and llama-quantize reads our file.
3. BIN quantize --gguf Q4_K_M --calibration TEXT --save-imatrix SAVED (same context and chunks):
   SAVED is byte for byte our imatrix command's file, and llama-quantize --imatrix SAVED gives
   the tensors our quantization wrote, bit for bit.
"""
import os
import subprocess

import numpy as np

IMATRIX_ARGS = ["-c", "128", "--chunks", "4"]
PURE = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]
# The low-bit file types (Q2_K_S only exists with an imatrix).
LOW_BIT_MIXES = ["Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L"]
# Q2_K and Q3_K by --tensor-type on a Q4_K_M file, too.
LOW_BIT = ["--tensor-type", "ffn_up=q2_k", "--tensor-type", "ffn_gate=q3_k", "--tensor-type", "attn_q=q2_k",
           "--tensor-type", "attn_k=q3_k"]
# Per column, relative. llama.cpp keeps the KV cache in f16 (we attend in f32), so from the first
# attention on the activations differ by ~1e-3; the inputs before it (blk.0 attn_q/k/v) are the
# embedding rows through one RMSNorm and must agree bit for bit (the same float sums in order).
SUM2_RTOL_MAX, SUM2_RTOL_MEAN = 5e-3, 1e-3
EXACT = ["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"]


def cases(f32, ff352):
    """(model, TYPE, pure, extra args) of the importance-matrix cases."""
    out = [(f32, t, True, []) for t in PURE]
    out += [(f32, t, False, []) for t in ["Q4_K_M", "Q5_K_M", "Q4_K_S", "Q4_0", "Q5_0", "IQ4_XS", "IQ4_NL"]]
    out += [(f32, "Q4_K_M", True, LOW_BIT)]
    out += [(f32, t, False, []) for t in LOW_BIT_MIXES]
    out += [(ff352, t, False, []) for t in ["Q4_K_M", "Q5_K_S", "Q6_K", "Q2_K_S", "Q3_K_M"]]
    return out


def ours_tensor_types(extra):
    """llama-quantize's `--tensor-type NAME=type` as our REGEX=TYPE."""
    args = []
    for i in range(0, len(extra), 2):
        name, t = extra[i + 1].split("=")
        args += ["--tensor-type", f"{name}={t.upper()}"]
    return args


def make_imatrix(binaries, model, text, out):
    """llama-imatrix's file; (ok, last output line)."""
    r = subprocess.run([os.path.join(binaries, "llama-imatrix"), "-m", model, "-f", text, "-o", out, *IMATRIX_ARGS],
                       capture_output=True, text=True)
    tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or [""]
    return r.returncode == 0 and os.path.exists(out), tail[0]


def run_case(rep, lane, binary, binaries, tmp, imatrices, case, counts):
    """One case; `counts[TYPE]` collects (bit-exact tensors, tensors of TYPE compared)."""
    model, qtype, pure, extra = case
    label = f"--imatrix {qtype}{' --pure' if pure else ''}{' +tensor-types' if extra else ''} on {model}"
    stem = f"imx-{model.split('.')[0]}-{qtype}{'-pure' if pure else ''}{'-tt' if extra else ''}"
    src, imatrix = os.path.join(tmp, model), imatrices[model]
    ref, plain, ours = (os.path.join(tmp, stem + s) for s in ("-ref.gguf", "-plain.gguf", "-ours.gguf"))
    base = [os.path.join(binaries, "llama-quantize")] + (["--pure"] if pure else []) + extra
    r = subprocess.run(base[:1] + ["--imatrix", imatrix] + base[1:] + [src, ref, qtype, "2"], capture_output=True, text=True)
    if not rep.check(r.returncode == 0, f"{label}: llama-quantize --imatrix",
                     (r.stderr or r.stdout).strip()[-200:] if r.returncode else ""):
        return
    if subprocess.run(base + [src, plain, qtype, "2"], capture_output=True, text=True).returncode != 0 and os.path.exists(plain):
        os.remove(plain)  # Q2_K_S: llama-quantize refuses it without the imatrix
    r = subprocess.run([binary, "quantize", "--gguf", qtype, "--imatrix", imatrix] + (["--pure"] if pure else [])
                       + ours_tensor_types(extra) + [src, ours], capture_output=True, text=True)
    if not rep.check(r.returncode == 0, f"{label}: aicompress quantize --gguf --imatrix",
                     (r.stderr or r.stdout).strip()[-300:] if r.returncode else ""):
        return
    a = {t[0]: t for t in lane.describe(ref)}
    b = {t[0]: t for t in lane.describe(ours)}
    p = {t[0]: t for t in lane.describe(plain)} if os.path.exists(plain) else {}
    same_types = set(a) == set(b) and all(a[n][1:3] == b[n][1:3] for n in a)
    rep.check(same_types, f"{label}: per-tensor types and dims equal llama-quantize's")
    if not same_types:
        return
    bad = [n for n in sorted(a) if a[n][3] != b[n][3]]
    for n in a:
        t = a[n][1]
        if t in ("F32", "F16", "BF16"):
            continue
        hit, total = counts.get(t, (0, 0))
        counts[t] = (hit + (a[n][3] == b[n][3]), total + 1)
    rep.check(not bad, f"{label}: tensor bytes equal llama-quantize --imatrix's (bit-exact)",
              f"{len(bad)} of {len(a)} differ, first {bad[0]} ({a[bad[0]][1]})" if bad else f"{len(a)} tensors")
    weighted = [n for n in a if n in p and a[n][1] not in ("F32", "F16", "BF16", "Q8_0") and n in imatrix_names(imatrix)]
    moved = sum(p[n][3] != a[n][3] for n in weighted)
    rep.check(not weighted or moved > 0, f"{label}: the imatrix changes the bytes (llama-quantize with vs without)",
              f"{moved} of {len(weighted)} weighted tensors differ")


_names = {}


def imatrix_names(path):
    if path not in _names:
        import gguf
        _names[path] = {t.name[: -len(".in_sum2")] for t in gguf.GGUFReader(path).tensors if t.name.endswith(".in_sum2")}
    return _names[path]


def read_imatrix(path):
    import gguf
    r = gguf.GGUFReader(path)
    t = {x.name: np.array(x.data, dtype=np.float64).reshape(-1) for x in r.tensors}
    names = sorted(n[: -len(".in_sum2")] for n in t if n.endswith(".in_sum2"))
    keys = {f.name for f in r.fields.values()}
    return {n: (t[n + ".in_sum2"], t.get(n + ".counts")) for n in names}, keys


def check_collection(rep, lane, binary, binaries, tmp, model, text, reference):
    """Our `imatrix` command against llama-imatrix's file `reference`; returns our file or None."""
    ours = os.path.join(tmp, "ours." + model.split(".")[0] + ".imatrix.gguf")
    r = subprocess.run([binary, "imatrix", os.path.join(tmp, model), "--text", text, "-o", ours, "--context", "128",
                        "--chunks", "4"], capture_output=True, text=True)
    if not rep.check(r.returncode == 0, f"imatrix on {model}: aicompress imatrix", (r.stderr or r.stdout).strip()[-300:]):
        return None
    ref, ref_keys = read_imatrix(reference)
    got, got_keys = read_imatrix(ours)
    rep.check(set(ref) == set(got), f"imatrix on {model}: the same {len(ref)} entries as llama-imatrix",
              f"only llama-imatrix: {sorted(set(ref) - set(got))[:3]}, only ours: {sorted(set(got) - set(ref))[:3]}")
    common = sorted(set(ref) & set(got))
    counts_eq = all(np.array_equal(ref[n][1], got[n][1]) for n in common)
    rep.check(counts_eq, f"imatrix on {model}: counts equal llama-imatrix's",
              f"e.g. {ref[common[0]][1]} vs {got[common[0]][1]}" if common else "")
    worst, worst_name, means = 0.0, "", []
    for n in common:
        a, b = ref[n][0], got[n][0]
        if a.shape != b.shape:
            worst, worst_name = float("inf"), n
            break
        rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-30)
        means.append(float(rel.mean()))
        if float(rel.max()) > worst:
            worst, worst_name = float(rel.max()), n
    mean = max(means) if means else float("inf")
    rep.check(worst <= SUM2_RTOL_MAX and mean <= SUM2_RTOL_MEAN,
              f"imatrix on {model}: in_sum2 within {SUM2_RTOL_MAX} (per column) and {SUM2_RTOL_MEAN} (per tensor mean) of llama-imatrix's",
              f"largest relative difference {worst:.3g} ({worst_name}), largest per-tensor mean {mean:.3g}")
    exact = [n for n in EXACT if n in common and np.array_equal(ref[n][0], got[n][0])]
    rep.check(len(exact) == len(EXACT), f"imatrix on {model}: in_sum2 of the first block's q/k/v (before any attention) bit-exact",
              f"{len(exact)} of {len(EXACT)}")
    print(f"imatrix agreement on {model}: {len(common)} entries, counts equal {counts_eq}, "
          f"max relative in_sum2 difference {worst:.3g}, max per-tensor mean {mean:.3g}, bit-exact q/k/v of blk.0 {len(exact)}/3")
    rep.check({"imatrix.chunk_count", "imatrix.chunk_size", "imatrix.datasets"} <= got_keys,
              f"imatrix on {model}: the imatrix.* keys are there", str(sorted(k for k in got_keys if k.startswith("imatrix"))))
    out = os.path.join(tmp, "ours-imatrix-read.gguf")
    r = subprocess.run([os.path.join(binaries, "llama-quantize"), "--imatrix", ours, os.path.join(tmp, model), out, "Q4_K_M", "2"],
                       capture_output=True, text=True)
    rep.check(r.returncode == 0 and "loaded" in r.stdout + r.stderr, f"imatrix on {model}: llama-quantize reads our file",
              (r.stderr or r.stdout).strip()[-200:])
    check_saved(rep, lane, binary, binaries, tmp, model, text, ours)
    return ours


def check_saved(rep, lane, binary, binaries, tmp, model, text, ours):
    """`quantize --calibration TEXT --save-imatrix`: the file our imatrix command writes, and llama-quantize reads it."""
    stem = os.path.join(tmp, "saved." + model.split(".")[0])
    saved, quantized, ref = stem + ".imatrix.gguf", stem + ".q4_k_m.gguf", stem + ".ref.gguf"
    r = subprocess.run([binary, "quantize", "-q", "--gguf", "Q4_K_M", "--calibration", text, "--calibration-tokens", "128",
                        "--calibration-chunks", "4", "--save-imatrix", saved, os.path.join(tmp, model), quantized],
                       capture_output=True, text=True)
    if not rep.check(r.returncode == 0, f"--save-imatrix on {model}: aicompress quantize --calibration --save-imatrix",
                     (r.stderr or r.stdout).strip()[-300:]):
        return
    with open(saved, "rb") as a, open(ours, "rb") as b:
        rep.check(a.read() == b.read(), f"--save-imatrix on {model}: the saved file is byte for byte aicompress imatrix's")
    r = subprocess.run([os.path.join(binaries, "llama-quantize"), "--imatrix", saved, os.path.join(tmp, model), ref, "Q4_K_M", "2"],
                       capture_output=True, text=True)
    if not rep.check(r.returncode == 0, f"--save-imatrix on {model}: llama-quantize --imatrix reads the saved file",
                     (r.stderr or r.stdout).strip()[-200:]):
        return
    a = {t[0]: t for t in lane.describe(ref)}
    b = {t[0]: t for t in lane.describe(quantized)}
    bad = [n for n in sorted(a) if n not in b or a[n][1:] != b[n][1:]]
    rep.check(set(a) == set(b) and not bad, f"--save-imatrix on {model}: llama-quantize --imatrix SAVED gives our tensors bit for bit",
              f"{len(bad)} of {len(a)} differ" + (f", first {bad[0]}" if bad else ""))


def run(rep, lane, binary, binaries, tmp, f32, ff352):
    """The importance-matrix part of the lane; prints the per-type bit-exact counts."""
    text = os.path.join(tmp, "text.txt")
    imatrices = {}
    for model in (f32, ff352):
        out = os.path.join(tmp, model.split(".")[0] + ".imatrix.gguf")
        ok, tail = make_imatrix(binaries, os.path.join(tmp, model), text, out)
        if rep.check(ok, f"llama-imatrix on {model}", tail if not ok else ""):
            imatrices[model] = out
    if len(imatrices) < 2:
        return
    counts = {}
    for case in cases(f32, ff352):
        run_case(rep, lane, binary, binaries, tmp, imatrices, case, counts)
    print("imatrix bit-exact tensors per type: " + ", ".join(f"{t} {h}/{n}" for t, (h, n) in sorted(counts.items())))
    for model in (f32, ff352):
        check_collection(rep, lane, binary, binaries, tmp, model, text, imatrices[model])
