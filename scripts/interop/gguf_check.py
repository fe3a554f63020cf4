#!/usr/bin/env python3
"""GGUF interop check: gguf-py (pip install gguf) judges the files aicompress's GGUF writer and
ggml quantizers produce.

Usage: gguf_check.py [BIN] [--export DIR]   (BIN, the CLI that scripts/interop.sh passes, is unused:
the CLI does not speak GGUF yet)

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
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
