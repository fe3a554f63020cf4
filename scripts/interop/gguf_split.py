#!/usr/bin/env python3
"""llama.cpp's llama-gguf-split as the judge of split GGUF (spec/gguf.md, "Split models").

Usage: gguf_split.py [BIN] [--keep]   (BIN default .build/debug/aicompress)

Gets llama.cpp's tools from scripts/llama-cpp.sh (LLAMA_CPP_BIN=DIR uses DIR), makes the tiny
F32 LLaMA of fixtures/llm/make_tiny_llama.py (about 20 MB) and its text, then:
  - ours: BIN convert in.gguf one.gguf, and BIN convert --shard-size 4M in.gguf ours/m.gguf;
  - gguf-py's GGUFReader opens every shard: split.no / split.count / split.tensors.count typed and
    valued as gguf-split writes them, every model key in the first shard only, each tensor's
    bytes those of one.gguf;
  - llama-gguf-split --merge of our shards is one.gguf byte for byte once the three keys merge
    leaves (split.no 0, split.tensors.count N, split.count 0, appended after the model's keys)
    are taken into account: the expected file is built from one.gguf's bytes with exactly those
    three pairs inserted, and cmp'd; BIN convert of the merged file gives one.gguf again;
  - llama-gguf-split --split --split-max-size 4M of one.gguf gives our shards byte for byte;
  - our reader on gguf-split's shards (given its last one): BIN convert gives one.gguf's tensors
    bit for bit and its keys, and BIN quantize --gguf Q4_0 of the split input gives the tensors
    and keys of the same command on one.gguf. Provenance's input facts (aicompress.input.bytes,
    .crc32 and the CRC in the run's first step) name the input file and so differ, and only they;
    the merged file's convert is compared the same way, with one.gguf converted once more (the
    same number of provenance steps).
  - llama-perplexity loads our first shard and gives the same perplexity as on one.gguf.
Prints one PASS/FAIL line per check, then `N passed, M failed`; exit 1 on any failure.
AICOMPRESS_SKIP_LLAMA=1 skips the lane (one line saying so, `0 passed, 0 failed`, exit 0).
"""
import glob
import os
import re
import struct
import subprocess
import sys

from common import Report, scratch_folder
from llama_cpp import ROOT, perplexity, start_lane

SIZE = "4M"
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(b, off, t):
    """The offset after a GGUF value of type `t` at `off`."""
    if t == 8:
        return off + 8 + struct.unpack_from("<Q", b, off)[0]
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, off)
        off += 12
        if et in FIXED:
            return off + n * FIXED[et]
        for _ in range(n):
            off = skip_value(b, off, et)
        return off
    return off + FIXED[t]


def layout(b):
    """(tensor count, kv count, end of the pairs, end of the tensor index) of GGUF bytes `b`."""
    n_t, n_kv = struct.unpack_from("<QQ", b, 8)
    off = 24
    for _ in range(n_kv):
        off += 8 + struct.unpack_from("<Q", b, off)[0]
        t = struct.unpack_from("<I", b, off)[0]
        off = skip_value(b, off + 4, t)
    kv_end = off
    for _ in range(n_t):
        off += 8 + struct.unpack_from("<Q", b, off)[0]
        n_dims = struct.unpack_from("<I", b, off)[0]
        off += 4 + 8 * n_dims + 4 + 8
    return n_t, n_kv, kv_end, off


def pair(key, fmt, type_id, value):
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", type_id) + struct.pack(fmt, value)


def expected_merge(one):
    """one.gguf's bytes with the pairs llama-gguf-split --merge leaves appended to its keys."""
    n_t, n_kv, kv_end, index_end = layout(one)
    data = index_end + (-index_end) % 32
    extra = pair("split.no", "<H", 2, 0) + pair("split.tensors.count", "<i", 5, n_t) + pair("split.count", "<H", 2, 0)
    head = one[:16] + struct.pack("<Q", n_kv + 3) + one[24:kv_end] + extra + one[kv_end:index_end]
    return head + bytes((-len(head)) % 32) + one[data:]


def same_model(gguf, path_a, path_b):
    """(ok, detail): the same tensors (name, type, dims, bytes) in order and the same keys with the
    same typed values, but for the input facts provenance records (aicompress.input.bytes and
    .crc32, and the CRC in the first step of this run): those name the input file, which differs."""
    a, b = gguf.GGUFReader(path_a), gguf.GGUFReader(path_b)
    def tensors(r):
        return [(t.name, t.tensor_type, list(t.shape), bytes(t.data.tobytes())) for t in r.tensors]
    def fields(r):
        out = {}
        for k, f in r.fields.items():
            if k.startswith("GGUF.") or k in ("aicompress.input.bytes", "aicompress.input.crc32"):
                continue
            raw = b"".join(bytes(p.tobytes()) for p in f.parts[1:])
            out[k] = re.sub(rb"input\.crc32=[0-9a-f]{8}", b"input.crc32=*", raw)
        return out
    fa, fb = fields(a), fields(b)
    differ = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
    same_tensors = tensors(a) == tensors(b)
    return same_tensors and not differ and list(fa) == list(fb), f"{len(a.tensors)} tensors, keys differing: {differ}"


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_shards(rep, gguf, shards, one_path):
    """gguf-py reads every shard; keys and tensors as gguf-split lays them out."""
    one = gguf.GGUFReader(one_path)
    model_keys = [k for k in one.fields if not k.startswith("GGUF.")]
    whole = {t.name: bytes(t.data.tobytes()) for t in one.tensors}
    seen = 0
    for k, path in enumerate(shards):
        r = gguf.GGUFReader(path)
        keys = [f for f in r.fields if not f.startswith("GGUF.")]
        split = keys[-3:] == ["split.no", "split.tensors.count", "split.count"]
        values = [r.fields[f].contents() for f in ("split.no", "split.tensors.count", "split.count")] if split else []
        types = [r.fields[f].types[0].name for f in ("split.no", "split.tensors.count", "split.count")] if split else []
        rep.check(split and values == [k, len(whole), len(shards)] and types == ["UINT16", "INT32", "UINT16"],
                  f"gguf-py: {os.path.basename(path)} split keys", f"{values} {types}")
        rep.check(keys[:-3] == (model_keys if k == 0 else []), f"gguf-py: {os.path.basename(path)} model keys only in the first",
                  f"{len(keys) - 3} model keys")
        same = all(bytes(t.data.tobytes()) == whole.get(t.name) for t in r.tensors) and len(r.tensors) > 0
        rep.check(same, f"gguf-py: {os.path.basename(path)} tensor bytes equal one.gguf's", f"{len(r.tensors)} tensors")
        seen += len(r.tensors)
    rep.check(seen == len(whole), "gguf-py: the shards hold every tensor once", f"{seen} of {len(whole)}")


def main():
    rep = Report()
    binary, binaries = start_lane(rep, "gguf_split", ["gguf"], ["gguf", "numpy"])
    if binary is None or binaries is None:
        return rep.finish()
    import gguf
    split_tool = os.path.join(binaries, "llama-gguf-split")
    if not rep.check(os.access(split_tool, os.X_OK), "llama-gguf-split built", split_tool):
        return rep.finish()
    with scratch_folder("aicompress-gguf-split-", keep="--keep" in sys.argv) as tmp:
        r = run([sys.executable, os.path.join(ROOT, "fixtures", "llm", "make_tiny_llama.py"), tmp])
        if not rep.check(r.returncode == 0, "fixtures/llm/make_tiny_llama.py", r.stderr.strip()[-300:]):
            return rep.finish()
        src, one = os.path.join(tmp, "tiny-llama-f32.gguf"), os.path.join(tmp, "one.gguf")
        for d in ("ours", "theirs", "q"):
            os.mkdir(os.path.join(tmp, d))
        r1 = run([binary, "convert", "-q", src, one])
        r2 = run([binary, "convert", "-q", "--shard-size", SIZE, src, os.path.join(tmp, "ours", "m.gguf")])
        ours = sorted(glob.glob(os.path.join(tmp, "ours", "*")))
        # one.gguf converted once more: what a convert of a file made from one.gguf is compared with
        # (its provenance has the same number of steps).
        again = os.path.join(tmp, "one-again.gguf")
        run([binary, "convert", "-q", one, again])
        if not rep.check(r1.returncode == 0 and r2.returncode == 0 and len(ours) > 2, f"BIN convert --shard-size {SIZE}",
                         f"{len(ours)} shards {r1.stderr.strip()[-200:]} {r2.stderr.strip()[-200:]}"):
            return rep.finish()
        n = len(ours)
        rep.check([os.path.basename(p) for p in ours] == [f"m-{k:05d}-of-{n:05d}.gguf" for k in range(1, n + 1)],
                  "shard names are llama.cpp's %s-%05d-of-%05d.gguf", " ".join(os.path.basename(p) for p in ours))
        check_shards(rep, gguf, ours, one)

        merged = os.path.join(tmp, "merged.gguf")
        r = run([split_tool, "--merge", ours[0], merged])
        if rep.check(r.returncode == 0, "llama-gguf-split --merge of our shards", "" if r.returncode == 0 else r.stderr.strip()[-200:]):
            rep.check(read(merged) == expected_merge(read(one)), "merged == one.gguf + merge's three split pairs, byte for byte",
                      f"{os.path.getsize(merged)} vs {os.path.getsize(one)} bytes")
            back = os.path.join(tmp, "merged-back.gguf")
            r = run([binary, "convert", "-q", merged, back])
            ok, detail = same_model(gguf, back, again) if r.returncode == 0 else (False, r.stderr.strip()[-200:])
            rep.check(ok, "BIN convert of the merged file: one.gguf's tensors and keys", detail)

        prefix = os.path.join(tmp, "theirs", "m")
        r = run([split_tool, "--split", "--split-max-size", SIZE, one, prefix])
        theirs = sorted(glob.glob(prefix + "-*"))
        if rep.check(r.returncode == 0 and theirs, f"llama-gguf-split --split --split-max-size {SIZE} of one.gguf",
                     (r.stderr or r.stdout).strip()[-200:]):
            same = [os.path.basename(p) for p in theirs] == [os.path.basename(p) for p in ours] and all(
                read(a) == read(b) for a, b in zip(theirs, ours))
            rep.check(same, "gguf-split's shards == our shards, byte for byte", f"{len(theirs)} vs {n} files")
            back = os.path.join(tmp, "theirs-back.gguf")
            r = run([binary, "convert", "-q", theirs[-1], back])
            ok, detail = same_model(gguf, back, again) if r.returncode == 0 else (False, r.stderr.strip()[-200:])
            rep.check(ok, "BIN convert of gguf-split's last shard: one.gguf's tensors and keys", detail)
            qa, qb = os.path.join(tmp, "q", "one-q4_0.gguf"), os.path.join(tmp, "q", "split-q4_0.gguf")
            ra = run([binary, "quantize", "-q", "--gguf", "Q4_0", one, qa])
            rb = run([binary, "quantize", "-q", "--gguf", "Q4_0", theirs[0], qb])
            if rep.check(ra.returncode == 0 and rb.returncode == 0, "BIN quantize --gguf Q4_0 of one.gguf and of gguf-split's shards",
                         (ra.stderr + rb.stderr).strip()[-200:]):
                ok, detail = same_model(gguf, qa, qb)
                rep.check(ok, "quantize --gguf Q4_0 of the split input: the tensors and keys of the unsplit one's", detail)
                # The comparisons can fail: a quantized file is not its source, one.gguf not its merge.
                rep.check(not same_model(gguf, qa, again)[0] and expected_merge(read(one)) != read(one),
                          "self-test: the comparisons tell Q4_0 from F32 and a merge from its source")

        text = os.path.join(tmp, "text.txt")
        ppl_one, why1 = perplexity(binaries, one, text)
        ppl_split, why2 = perplexity(binaries, ours[0], text)
        rep.check(ppl_one is not None and ppl_one == ppl_split, "llama-perplexity loads our first shard: the same PPL as one.gguf",
                  f"{ppl_split} vs {ppl_one} {why1} {why2}")
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
