#!/usr/bin/env python3
"""GGUF interop check: gguf-py (pip install gguf) judges the files aicompress's GGUF writer and
ggml quantizers produce.

Usage: gguf_check.py [BIN] [--export DIR]   (BIN: the CLI that scripts/interop.sh passes; when it is
given, the `quantize --gguf` checks below run too)

Without --export it builds nothing itself: it runs the Swift test GGUFInteropExportTests with
AICOMPRESS_GGUF_EXPORT set to a temporary folder (the package must be built with
`swift build --build-tests`), then checks, with gguf-py's GGUFReader and gguf.quants:
  - ours.gguf opens; alignment 64; every metadata key has the type and value we wrote (nested
    arrays included); every tensor has the expected ggml type and dims (ggml order, [256, 8]);
    every tensor's data starts at a multiple of the alignment;
  - for every type: gguf.quants.dequantize of our bytes equals our dequantizer's output bit for
    bit (all types, K-quants included);
  - for the types gguf-py quantizes (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1): gguf-py's
    quantize of the same input gives exactly our bytes;
  - roundtrip.gguf (ours.gguf read by our reader and written back) is byte-identical.
With BIN, on a LLaMA-shaped F32 model made here with gguf-py (random weights, 8 blocks, n_embd 256,
n_ff 512, a tokenizer list): `BIN quantize --gguf TYPE --pure` for every TYPE and `--gguf Q4_K_M`;
gguf-py reads each output, finds the per-tensor types llama-quantize's rules give, every input key
unchanged, general.file_type and general.quantization_version set, our bytes equal to gguf-py's
quantizer where it has one, and the dequantized weights within each type's error budget.
Prints one line per check and `N passed, M failed`; exits 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import gguf
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "gguf"],
                   check=True, env=dict(os.environ, PIP_ROOT_USER_ACTION="ignore"))
    import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V, quants

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL"]
PY_QUANTIZES = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"}
EXPECTED_KV = {
    "general.architecture": (V.STRING, "llama"), "general.alignment": (V.UINT32, 64),
    "test.u8": (V.UINT8, 7), "test.i8": (V.INT8, -7), "test.u16": (V.UINT16, 65535), "test.i16": (V.INT16, -32768),
    "test.u32": (V.UINT32, 123456), "test.i32": (V.INT32, -123456), "test.f32": (V.FLOAT32, -0.25),
    "test.bool": (V.BOOL, False), "test.string": (V.STRING, "ünïcode ✓"), "test.u64": (V.UINT64, 2**64 - 1),
    "test.i64": (V.INT64, -(2**63)), "test.f64": (V.FLOAT64, 1e300),
    "test.array.u16": (V.ARRAY, [1, 2]), "test.array.strings": (V.ARRAY, ["<s>", "", "▁the"]),
    # gguf-py's contents() flattens nested arrays (its own files too): [[1.5], [-2, 3]] reads as
    # [1.5, -2, 3] with types [ARRAY, ARRAY, FLOAT32].
    "test.array.nested": (V.ARRAY, [1.5, -2.0, 3.0]),
}
NESTED_TYPES = {"test.array.nested": [V.ARRAY, V.ARRAY, V.FLOAT32]}

passed = failed = 0


def check(ok: bool, what: str) -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")


def main() -> int:
    if "--export" in sys.argv:
        folder = sys.argv[sys.argv.index("--export") + 1]
    else:
        folder = tempfile.mkdtemp(prefix="aicompress-gguf-")
        env = dict(os.environ, AICOMPRESS_GGUF_EXPORT=folder)
        r = subprocess.run(["swift", "test", "--skip-build", "--disable-swift-testing", "--filter", "GGUFInteropExportTests"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        check(r.returncode == 0 and os.path.exists(os.path.join(folder, "ours.gguf")), "export test ran")
        if failed:
            print(r.stdout[-2000:], r.stderr[-2000:])
            print(f"{passed} passed, {failed} failed")
            return 1
    reader = gguf.GGUFReader(os.path.join(folder, "ours.gguf"))
    check(reader.alignment == 64, "alignment 64")
    for key, (vtype, value) in EXPECTED_KV.items():
        field = reader.fields.get(key)
        got = None if field is None else field.contents()
        if isinstance(value, float):
            same = got is not None and np.float32(got) == np.float32(value) if vtype == V.FLOAT32 else got == value
        else:
            same = got == value
        types_ok = field is not None and (field.types == NESTED_TYPES[key] if key in NESTED_TYPES else field.types[0] == vtype)
        check(types_ok and same, f"key {key}: {got!r}")
    x = np.fromfile(os.path.join(folder, "input.f32"), dtype="<f4").reshape(8, 256)
    tensors = {t.name: t for t in reader.tensors}
    for name in TYPES:
        t = tensors.get(f"blk.0.{name.lower()}.weight")
        check(t is not None and t.tensor_type == T[name] and list(t.shape) == [256, 8], f"{name}: type and dims")
        if t is None:
            continue
        check(t.data_offset % 64 == 0, f"{name}: data aligned")
        raw = np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
        ours = np.fromfile(os.path.join(folder, f"{name}.dequantized.f32"), dtype="<u4")
        theirs = quants.dequantize(raw, T[name]).astype("<f4").reshape(-1).view("<u4")
        check(ours.shape == theirs.shape and bool(np.all(ours == theirs)), f"{name}: gguf-py dequantizes our bytes to our floats, bit for bit")
        if name in PY_QUANTIZES:
            q = np.ascontiguousarray(quants.quantize(x, T[name])).view(np.uint8).reshape(-1)
            check(q.shape == raw.shape and bool(np.all(q == raw)), f"{name}: gguf-py's quantizer gives our bytes")
    with open(os.path.join(folder, "ours.gguf"), "rb") as a, open(os.path.join(folder, "roundtrip.gguf"), "rb") as b:
        check(a.read() == b.read(), "read -> write is byte-identical")
    binary = next((a for a in sys.argv[1:] if not a.startswith("--") and os.access(a, os.X_OK) and os.path.isfile(a)), None)
    if binary:
        check_quantize(binary, folder)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


FTYPES = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "IQ4_NL": 25, "Q4_K": 15, "Q5_K": 17, "Q6_K": 18, "Q8_0": 7,
          "F16": 1, "BF16": 32, "Q4_K_M": 15}
BUDGET = {"Q4_0": 0.09, "Q4_1": 0.08, "Q5_0": 0.045, "Q5_1": 0.04, "IQ4_NL": 0.09, "Q4_K": 0.08, "Q5_K": 0.04,
          "Q6_K": 0.02, "Q8_0": 0.01, "F16": 0.001, "BF16": 0.005, "Q4_K_M": 0.08}


def make_llama(path: str, n_layer: int = 8, embd: int = 256, ff: int = 512, vocab: int = 64) -> dict:
    rng = np.random.default_rng(16)
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(n_layer); w.add_embedding_length(embd); w.add_feed_forward_length(ff)
    w.add_head_count(4); w.add_head_count_kv(2); w.add_context_length(128); w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(embd // 4); w.add_file_type(0); w.add_tokenizer_model("llama")
    w.add_token_list([f"t{i}" for i in range(vocab)])
    weights = {}

    def t(name, shape):
        a = (rng.standard_normal(shape) * 0.02).astype(np.float32)
        weights[name] = a
        w.add_tensor(name, a)
    t("token_embd.weight", (vocab, embd))
    for i in range(n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(embd, np.float32))
        t(p + "attn_q.weight", (embd, embd)); t(p + "attn_k.weight", (embd // 2, embd)); t(p + "attn_v.weight", (embd // 2, embd))
        t(p + "attn_output.weight", (embd, embd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(embd, np.float32))
        t(p + "ffn_gate.weight", (ff, embd)); t(p + "ffn_up.weight", (ff, embd)); t(p + "ffn_down.weight", (embd, ff))
    w.add_tensor("output_norm.weight", np.ones(embd, np.float32))
    t("output.weight", (vocab, embd))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    return weights


def expected_type(mix: str, name: str, n_layer: int = 8) -> str:
    base = {"Q4_K": "Q4_K", "Q5_K": "Q5_K", "Q4_K_M": "Q4_K"}.get(mix, mix)
    if mix != "Q4_K_M":
        return base
    i = int(name.split(".")[1]) if name.startswith("blk.") else -1
    bump = i < n_layer // 8 or i >= 7 * n_layer // 8 or (i - n_layer // 8) % 3 == 2
    if name == "output.weight" or (bump and (name.endswith("attn_v.weight") or name.endswith("ffn_down.weight"))):
        return "Q6_K"
    return base


def check_quantize(binary: str, folder: str) -> None:
    src = os.path.join(folder, "llama-f32.gguf")
    weights = make_llama(src)
    source = gguf.GGUFReader(src)
    for mix in list(FTYPES):
        out = os.path.join(folder, f"llama-{mix}.gguf")
        args = [binary, "quantize", "--gguf", mix] + ([] if mix == "Q4_K_M" else ["--pure"]) + [src, out]
        r = subprocess.run(args, capture_output=True, text=True)
        check(r.returncode == 0, f"quantize --gguf {mix}: exit 0")
        if r.returncode != 0:
            print(r.stderr[-1000:])
            continue
        q = gguf.GGUFReader(out)
        fields_ok = all(key in q.fields and q.fields[key].types == f.types and q.fields[key].contents() == f.contents()
                        for key, f in source.fields.items() if not key.startswith("GGUF.") and key != "general.file_type")
        check(fields_ok, f"{mix}: every input key kept, typed")
        check(q.fields["general.file_type"].contents() == FTYPES[mix], f"{mix}: general.file_type {FTYPES[mix]}")
        if mix not in ("F16", "BF16"):
            check(q.fields["general.quantization_version"].contents() == 2, f"{mix}: general.quantization_version 2")
        types_ok = bytes_ok = err_ok = True
        for t in q.tensors:
            want = "F32" if t.name.endswith("_norm.weight") else expected_type(mix, t.name)
            types_ok &= t.tensor_type.name == want
            if t.name not in weights:
                continue
            raw = np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
            x = weights[t.name]
            y = quants.dequantize(raw, t.tensor_type).reshape(x.shape).astype(np.float64)
            err_ok &= float(np.linalg.norm(y - x) / np.linalg.norm(x)) < BUDGET[mix]
            if t.tensor_type.name in PY_QUANTIZES:
                mine = np.ascontiguousarray(quants.quantize(x, t.tensor_type)).view(np.uint8).reshape(-1)
                bytes_ok &= mine.shape == raw.shape and bool(np.all(mine == raw))
        check(types_ok, f"{mix}: per-tensor types follow llama-quantize's rules")
        check(err_ok, f"{mix}: gguf-py dequantizes within the {BUDGET[mix]} relative-error budget")
        check(bytes_ok, f"{mix}: bytes equal gguf-py's quantizer where it has one")


if __name__ == "__main__":
    sys.exit(main())
