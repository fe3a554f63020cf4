#!/usr/bin/env python3
"""safetensors interop check (run by CI through scripts/interop.sh).

Usage: safetensors_roundtrip.py BIN [--fixtures DIR] [--shard-size SIZE] [--keep]

BIN is the aicompress binary. For every fixture in FIXTURES below (a .safetensors file, or a
sharded set given by its model.safetensors.index.json) it runs

    BIN convert F x.ckpt ; BIN convert x.ckpt y.safetensors   (through the checkpoint format)
    BIN convert F z.safetensors                                (safetensors -> safetensors)

and checks each output with the reference `safetensors` package: safe_open(framework="np")
accepts it (the reference reader validates the layout: header, dtypes, offsets tiling the buffer,
no trailing bytes); the same tensor names, dtypes and shapes and bit-identical bytes as the
original (read from the file by offset, so BF16 is covered too; for the other dtypes also
get_tensor); the header length is a multiple of 8 and the JSON is padded with spaces only;
__metadata__ has "aicompress.version" and keeps the original's keys and values; and a second
conversion of the same input gives identical bytes.

Sharded output: BIN convert --shard-size SIZE sharded/model.safetensors.index.json out/model.safetensors
must write exactly model-0000K-of-0000N.safetensors (K = 1..N) + model.safetensors.index.json
in out/ (the Hugging Face naming); the index's weight_map names every tensor exactly once and
only shards of the set, each shard holds exactly the tensors mapped to it, metadata.total_size
is the sum of the tensor byte sizes, every shard passes the single-file checks above, no shard
with two or more tensors is over SIZE, values are identical, and a second run gives identical
files. SIZE defaults to 2KB: the MLP has 3496 bytes of tensors, so that makes two or more shards
whether KB means 1000 or 1024 (at 5KB everything would fit in one shard).

Quantized sharded output: BIN quantize --int8 (and --uint8, which has zero points) --shard-size
QSIZE mlp.safetensors out/model.safetensors, and the same without --shard-size to one file. The
index's weight_map must name every tensor of every shard (NAME, NAME_scale, NAME_zero_point)
and nothing else, every shard loads with safe_open, each quantized NAME has its NAME_scale in
the same shard, total_size is the sum of the tensor bytes, all shards together hold exactly the
single file's tensors (names, dtypes, shapes, bytes), and BIN verify accepts the index.
QSIZE is 600 bytes (the int8 MLP has about 1.2 KB of tensors: three shards or more).

One shard as input: BIN convert sharded/model-00001-of-00002.safetensors all.ckpt must read the
whole set (the shard's folder has an index naming it): BIN inspect --json all.ckpt lists all
tensors, and BIN convert all.ckpt all.safetensors gives the original values.

Prints one line per check, then `N passed, M failed`; exits 1 if M > 0.
Needs only safetensors and numpy.
"""

import argparse
import json
import os
import re
import struct
import subprocess
import sys

import numpy as np
from safetensors import safe_open

from common import Report, executable, scratch_folder

# label, path under fixtures/safetensors
FIXTURES = [
    ("all-dtypes", "all-dtypes.safetensors"),
    ("mlp", "mlp.safetensors"),
    ("small", "small.safetensors"),
    ("sharded", os.path.join("sharded", "model.safetensors.index.json")),
]
ONE_SHARD = os.path.join("sharded", "model-00001-of-00002.safetensors")
INDEX_NAME = "model.safetensors.index.json"
PROVENANCE_KEY = "aicompress.version"
TIMEOUT = 300  # seconds per aicompress run
QUANTIZED_SHARD_SIZE = "600B"  # the int8 MLP has about 1.2 KB of tensors

NUMPY = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
    "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
    "I64": np.int64, "U64": np.uint64,
}  # BF16 (and anything numpy lacks): compared as raw bytes only

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "safetensors"))


def short(e):
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]


# ------------------------------------------------------------------ reading safetensors

class Model:
    """tensors: name -> (dtype code, shape list, raw bytes); metadata: dict or {}."""

    def __init__(self, tensors, metadata):
        self.tensors = tensors
        self.metadata = metadata

    def nbytes(self):
        return sum(len(t[2]) for t in self.tensors.values())


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        raise ValueError(f"duplicate JSON keys {dups}")
    return dict(pairs)


def read_raw(path):
    """Parse a safetensors file by hand: (header length, header bytes, header dict, buffer)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{len(data)} bytes, shorter than the 8-byte header length")
    n = struct.unpack("<Q", data[:8])[0]
    if 8 + n > len(data):
        raise ValueError(f"header length {n} runs past the end of the file ({len(data)} bytes)")
    hb = data[8:8 + n]
    header = json.loads(hb.decode("utf-8"), object_pairs_hook=no_duplicates)
    return n, hb, header, data[8 + n:]


def load_safetensors(path):
    """Load with the reference reader and by hand; returns (Model, problems) or raises.
    problems: differences between what safe_open reports and the file's own bytes."""
    problems = []
    n, hb, header, buf = read_raw(path)
    tensors = {}
    with safe_open(path, framework="np") as f:
        keys = list(f.keys())
        metadata = f.metadata() or {}
        for name in keys:
            sl = f.get_slice(name)
            code, shape = sl.get_dtype(), list(sl.get_shape())
            info = header.get(name)
            if info is None:
                problems.append(f"{name}: not in the header")
                continue
            b, e = info["data_offsets"]
            raw = buf[b:e]
            if info["dtype"] != code or list(info["shape"]) != shape:
                problems.append(f"{name}: safe_open {code} {shape} vs header {info['dtype']} {info['shape']}")
            if code in NUMPY:
                a = f.get_tensor(name)
                if a.astype(a.dtype.newbyteorder("<")).tobytes() != raw:
                    problems.append(f"{name}: get_tensor bytes differ from the file's bytes {b}..{e}")
            tensors[name] = (code, shape, raw)
    return Model(tensors, dict(metadata)), problems


def load_index(path):
    """A sharded set by its index: (Model merged over the shards, index dict)."""
    with open(path, "rb") as f:
        index = json.loads(f.read().decode("utf-8"), object_pairs_hook=no_duplicates)
    folder = os.path.dirname(os.path.abspath(path))
    tensors, metadata = {}, {}
    for shard in sorted(set(index["weight_map"].values())):
        m, problems = load_safetensors(os.path.join(folder, shard))
        if problems:
            raise ValueError(f"{shard}: {'; '.join(problems)}")
        for name, t in m.tensors.items():
            if name in tensors:
                raise ValueError(f"{name} in two shards")
            tensors[name] = t
        metadata.update(m.metadata)
    return Model(tensors, metadata), index


def load_original(path):
    if path.endswith(".index.json"):
        return load_index(path)[0]
    m, problems = load_safetensors(path)
    if problems:
        raise ValueError("; ".join(problems))
    return m


# ------------------------------------------------------------------ checks

def compare_tensors(original, out):
    a, b = original.tensors, out.tensors
    problems = []
    if sorted(a) != sorted(b):
        problems.append(f"missing {sorted(set(a) - set(b))}, extra {sorted(set(b) - set(a))}")
    for name in sorted(a):
        if name not in b:
            continue
        (ca, sa, ra), (cb, sb, rb) = a[name], b[name]
        if ca != cb:
            problems.append(f"{name}: dtype {ca} -> {cb}")
        elif sa != sb:
            problems.append(f"{name}: shape {sa} -> {sb}")
        elif ra != rb:
            diff = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
            problems.append(f"{name}: bytes differ (first at byte {diff}; {len(ra)} vs {len(rb)} bytes)")
    return problems


def check_layout(rep, label, path):
    """Header length a multiple of 8; the JSON object followed by spaces only."""
    try:
        n, hb, _, _ = read_raw(path)
    except Exception as e:  # noqa: BLE001
        return rep.check(False, f"{label}: header layout", short(e))
    problems = []
    if n % 8:
        problems.append(f"header length {n} not a multiple of 8")
    text = hb.rstrip(b" ")
    if not text.startswith(b"{") or not text.endswith(b"}"):
        problems.append("header is not a JSON object followed by spaces only"
                        f" (starts {hb[:1]!r}, ends {hb[-8:]!r})")
    return rep.check(not problems, f"{label}: header length multiple of 8, JSON padded with spaces",
                     "; ".join(problems) or f"N = {n}, {len(hb) - len(text)} pad byte(s)")


def check_metadata(rep, label, original, out):
    meta = out.metadata
    rep.check(PROVENANCE_KEY in meta, f"{label}: __metadata__ has {PROVENANCE_KEY}",
              f"{PROVENANCE_KEY} = {meta[PROVENANCE_KEY]!r}" if PROVENANCE_KEY in meta
              else f"__metadata__ keys {sorted(meta)}")
    if original.metadata:
        lost = {k: v for k, v in original.metadata.items() if meta.get(k) != v}
        rep.check(not lost, f"{label}: original metadata kept ({', '.join(sorted(original.metadata))})",
                  "" if not lost else "lost/changed " + ", ".join(f"{k}: {v!r} -> {meta.get(k)!r}"
                                                                  for k, v in lost.items()))


def check_file(rep, label, path, original):
    """Every check of one output .safetensors file; returns its Model or None."""
    try:
        out, problems = load_safetensors(path)
    except Exception as e:  # noqa: BLE001
        rep.check(False, f"{label}: safe_open", short(e))
        check_layout(rep, label, path)
        return None
    rep.check(not problems, f"{label}: safe_open", "; ".join(problems[:5]))
    check_layout(rep, label, path)
    if original is not None:
        diff = compare_tensors(original, out)
        rep.check(not diff,
                  f"{label}: tensors ({len(original.tensors)}) names, dtypes, shapes, bytes identical", "; ".join(diff[:5]))
        check_metadata(rep, label, original, out)
    return out


def same_bytes(p, q):
    with open(p, "rb") as f, open(q, "rb") as g:
        return f.read() == g.read()


# ------------------------------------------------------------------ running aicompress

def run(rep, label, binary, args, want_stdout=False):
    cmd = [binary, *args]
    shown = " ".join(os.path.basename(c) if os.path.isabs(c) else c for c in cmd[1:])
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        rep.check(False, f"{label}: {shown}", short(e))
        return None
    err = r.stderr.decode("utf-8", "replace").strip().splitlines()
    ok = rep.check(r.returncode == 0, f"{label}: {shown}",
                   "" if r.returncode == 0 else f"exit {r.returncode}: {err[-1] if err else ''}")
    if not ok:
        return None
    return r.stdout if want_stdout else True


def convert(rep, label, binary, *args):
    return run(rep, label, binary, ["convert", *args]) is not None


def parse_size(text):
    """'2KB' -> (low, high): KB/MB/GB as 1000^k, or as 1024^k; KiB/MiB/GiB exact; plain bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)(i?)B?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"bad size {text!r}")
    value, unit, binary = float(m.group(1)), m.group(2).upper(), bool(m.group(3))
    k = {"": 0, "K": 1, "M": 2, "G": 3}[unit]
    if binary or k == 0:
        return int(value * 1024 ** k), int(value * 1024 ** k)
    return int(value * 1000 ** k), int(value * 1024 ** k)


# ------------------------------------------------------------------ the sharded lane

SHARD_RE = re.compile(r"^model-(\d{5})-of-(\d{5})\.safetensors$")


def check_shard_set(rep, label, folder, original, shard_limit):
    """out/ must hold exactly model-KKKKK-of-NNNNN.safetensors (K = 1..N) + the index."""
    try:
        files = sorted(os.listdir(folder))
    except OSError as e:
        rep.check(False, f"{label}: output folder", short(e))
        return
    shards = [f for f in files if SHARD_RE.match(f)]
    n = len(shards)
    expected = [f"model-{k:05d}-of-{n:05d}.safetensors" for k in range(1, n + 1)] + [INDEX_NAME]
    rep.check(n >= 1 and sorted(expected) == files,
              f"{label}: files are model-KKKKK-of-NNNNN.safetensors (K = 1..N) + {INDEX_NAME}", f"N = {n}: {files}" if n >= 1 and sorted(expected) == files
              else f"found {files}")
    total = original.nbytes()
    if total > shard_limit[1]:
        rep.check(n >= 2, f"{label}: {total} bytes of tensors over the shard size make 2 or more shards",
                  f"{n} shard(s)")

    try:
        with open(os.path.join(folder, INDEX_NAME), "rb") as f:
            index = json.loads(f.read().decode("utf-8"), object_pairs_hook=no_duplicates)
        wm = index["weight_map"]
        total_size = index["metadata"]["total_size"]
        assert isinstance(wm, dict) and all(isinstance(v, str) for v in wm.values()), "weight_map not str -> str"
    except Exception as e:  # noqa: BLE001
        rep.check(False, f"{label}: {INDEX_NAME} readable (metadata.total_size, weight_map)", short(e))
        return
    rep.check(True, f"{label}: {INDEX_NAME} readable (metadata.total_size, weight_map)")

    names = sorted(original.tensors)
    rep.check(sorted(wm) == names, f"{label}: weight_map covers every tensor exactly once ({len(names)})",
              f"missing {sorted(set(names) - set(wm))}, extra {sorted(set(wm) - set(names))}"
              if sorted(wm) != names else "")
    targets = sorted(set(wm.values()))
    rep.check(targets == sorted(shards), f"{label}: weight_map names exactly the shard files",
              f"weight_map -> {targets}, shard files {sorted(shards)}" if targets != sorted(shards) else "")
    rep.check(type(total_size) is int and total_size == total,
              f"{label}: metadata.total_size = sum of tensor byte sizes ({total})", f"total_size {total_size!r}")

    merged, seen_twice = {}, []
    for shard in shards:
        out = check_file(rep, f"{label} {shard}", os.path.join(folder, shard), None)
        if out is None:
            continue
        check_metadata(rep, f"{label} {shard}", original, out)
        mapped = sorted(k for k, v in wm.items() if v == shard)
        rep.check(sorted(out.tensors) == mapped,
                  f"{label} {shard}: holds exactly the tensors mapped to it ({len(mapped)})", f"holds {sorted(out.tensors)}, mapped {mapped}"
                  if sorted(out.tensors) != mapped else "")
        size = out.nbytes()
        rep.check(size <= shard_limit[1] or len(out.tensors) == 1,
                  f"{label} {shard}: within the shard size or a single tensor",
                  f"{size} bytes in {len(out.tensors)} tensors")
        for name, t in out.tensors.items():
            if name in merged:
                seen_twice.append(name)
            merged[name] = t
    diff = compare_tensors(original, Model(merged, {}))
    if seen_twice:
        diff.insert(0, f"in two shards: {sorted(set(seen_twice))}")
    rep.check(not diff,
              f"{label}: all shards together: tensors ({len(names)}) identical to the original", "; ".join(diff[:5]))


def check_quantized_shards(rep, binary, fixtures, tmp):
    """quantize --shard-size: the index names every tensor (scales and zero points included)."""
    src = os.path.join(fixtures, "mlp.safetensors")
    for scheme in ("--int8", "--uint8"):
        label = f"quantized sharded output ({scheme} --shard-size {QUANTIZED_SHARD_SIZE})"
        d = os.path.join(tmp, "quantized-shards" + scheme)
        os.makedirs(os.path.join(d, "out"))
        single, index_path = os.path.join(d, "single.safetensors"), os.path.join(d, "out", INDEX_NAME)
        if run(rep, label, binary, ["quantize", "-q", scheme, src, single]) is None:
            continue
        if run(rep, label, binary, ["quantize", "-q", scheme, "--shard-size", QUANTIZED_SHARD_SIZE, src,
                                    os.path.join(d, "out", "model.safetensors")]) is None:
            continue
        try:
            expected, problems = load_safetensors(single)
            assert not problems, "; ".join(problems)
            with open(index_path, "rb") as f:
                index = json.loads(f.read().decode("utf-8"), object_pairs_hook=no_duplicates)
            wm = index["weight_map"]
        except Exception as e:  # noqa: BLE001
            rep.check(False, f"{label}: single file and index readable", short(e))
            continue
        shards = sorted(set(wm.values()))
        rep.check(len(shards) >= 2, f"{label}: two or more shards", f"{len(shards)} shard(s)")
        merged, problems, total = {}, [], 0
        for shard in shards:
            try:
                out, p = load_safetensors(os.path.join(d, "out", shard))
            except Exception as e:  # noqa: BLE001
                problems.append(f"{shard}: {short(e)}")
                continue
            problems += [f"{shard}: {x}" for x in p]
            mapped = sorted(k for k, v in wm.items() if v == shard)
            if sorted(out.tensors) != mapped:
                problems.append(f"{shard} holds {sorted(out.tensors)}, the index maps {mapped} to it")
            for name in out.tensors:
                if name + "_scale" in wm and name + "_scale" not in out.tensors:
                    problems.append(f"{name} in {shard}, its scale in {wm[name + '_scale']}")
            total += out.nbytes()
            merged.update(out.tensors)
        rep.check(not problems, f"{label}: the index names exactly the tensors of every shard, scales beside their tensor",
                  "; ".join(problems[:5]))
        scales = sorted(k for k in expected.tensors if k.endswith("_scale"))
        rep.check(scales and all(k in wm for k in scales), f"{label}: the index names the scales ({', '.join(scales)})",
                  f"weight_map {sorted(wm)}")
        rep.check(index["metadata"].get("total_size") == total, f"{label}: metadata.total_size = sum of tensor bytes ({total})",
                  f"total_size {index['metadata'].get('total_size')!r}")
        diff = compare_tensors(expected, Model(merged, {}))
        rep.check(not diff, f"{label}: all shards together equal the single-file output ({len(expected.tensors)} tensors)",
                  "; ".join(diff[:5]))
        run(rep, label, binary, ["verify", "-q", index_path])


def compare_folders(a, b):
    fa, fb = sorted(os.listdir(a)), sorted(os.listdir(b))
    if fa != fb:
        return f"files {fa} vs {fb}"
    bad = [f for f in fa if not same_bytes(os.path.join(a, f), os.path.join(b, f))]
    return f"differ: {bad}" if bad else ""


# ------------------------------------------------------------------ driver

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("bin")
    ap.add_argument("--fixtures", default=DEFAULT_FIXTURES)
    ap.add_argument("--shard-size", default="2KB", help="--shard-size for the sharded lane (default 2KB)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    rep = Report()
    if (binary := executable(rep, args.bin)) is None:
        return rep.finish()
    shard_limit = parse_size(args.shard_size)

    originals = {}
    with scratch_folder("safetensors-interop-", args.keep) as tmp:
        for name, file in FIXTURES:
            src = os.path.join(args.fixtures, file)
            try:
                original = load_original(src)
            except Exception as e:  # noqa: BLE001
                rep.check(False, f"{name}: load fixture {src}", short(e))
                continue
            originals[name] = original
            d = os.path.join(tmp, name)
            os.makedirs(d)
            x, y, y2, z, z2 = (os.path.join(d, f) for f in
                               ("x.ckpt", "y.safetensors", "y2.safetensors", "z.safetensors", "z2.safetensors"))

            if convert(rep, name, binary, src, x) and convert(rep, name, binary, x, y):
                check_file(rep, f"{name} via ckpt (y.safetensors)", y, original)
                if convert(rep, name, binary, x, y2):
                    rep.check(same_bytes(y, y2),
                              f"{name} via ckpt: deterministic (converting x.ckpt twice gives identical bytes)")
            if convert(rep, name, binary, src, z):
                check_file(rep, f"{name} direct (z.safetensors)", z, original)
                if convert(rep, name, binary, src, z2):
                    rep.check(same_bytes(z, z2),
                              f"{name} direct: deterministic (converting twice gives identical bytes)")

        # sharded output
        original = originals.get("sharded")
        if original is not None:
            src = os.path.join(args.fixtures, "sharded", INDEX_NAME)
            label = f"sharded output (--shard-size {args.shard_size})"
            outs = [os.path.join(tmp, "shards", run_dir) for run_dir in ("out", "out2")]
            for o in outs:
                os.makedirs(o)
            if convert(rep, label, binary, "--shard-size", args.shard_size, src,
                       os.path.join(outs[0], "model.safetensors")):
                check_shard_set(rep, label, outs[0], original, shard_limit)
                if convert(rep, label, binary, "--shard-size", args.shard_size, src,
                           os.path.join(outs[1], "model.safetensors")):
                    diff = compare_folders(outs[0], outs[1])
                    rep.check(not diff, f"{label}: deterministic (two runs give identical files)", diff)

            check_quantized_shards(rep, binary, args.fixtures, tmp)

            # one shard as input reads the whole set
            label = "one shard as input"
            one = os.path.join(args.fixtures, ONE_SHARD)
            d = os.path.join(tmp, "one-shard")
            os.makedirs(d)
            allc, alls = os.path.join(d, "all.ckpt"), os.path.join(d, "all.safetensors")
            if convert(rep, label, binary, one, allc):
                out = run(rep, label, binary, ["inspect", "--json", allc], want_stdout=True)
                if out is not None:
                    try:
                        listed = sorted(t["name"] for t in json.loads(out)["tensors"])
                        rep.check(listed == sorted(original.tensors),
                                  f"{label}: inspect --json lists every tensor of the set ({len(original.tensors)})", f"lists {listed}")
                    except Exception as e:  # noqa: BLE001
                        rep.check(False, f"{label}: inspect --json lists every tensor of the set", short(e))
                if convert(rep, label, binary, allc, alls):
                    check_file(rep, f"{label} (all.safetensors)", alls, original)

    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
