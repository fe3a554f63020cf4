#!/usr/bin/env python3
"""Trains a small LLaMA-architecture model on real English text, on the CPU, deterministically: the
model that calibrated quantization and pruning (imatrix, GPTQ, Wanda, SparseGPT) are judged on,
where random-weight fixtures say nothing (scripts/bench-calibrated.py). A benchmark generator: not
run in CI, its outputs are never committed.

Usage: make-trained-llama.py OUT_DIR [--steps N] [--bin AICOMPRESS]
       (pip install jax numpy safetensors tokenizers; jax 0.10.2 CPU, tokenizers 0.23.3 used)

Text: the documentation that ships with the running CPython (PSF License v2, which permits copying
and derived works with the notice kept): pydoc_data/topics.py (the language-reference topics
`help()` shows) and the docstrings of at least 200 characters of the standard library's modules,
classes and functions (ast, not import; test suites, idlelib, lib2to3 left out). Documents are
deduplicated and dealt, in a fixed order, to the splits: every 10th to evaluation and the next to
calibration until each holds EVAL_CHARS / CALIB_CHARS, the rest to training. No document is in
two splits. The text depends on the Python version (3.11.7 used).

Writes into OUT_DIR:
  hf/           config.json, model.safetensors (F32, untied lm_head), tokenizer.json, tokenizer_config.json
  f32.gguf      `aicompress convert hf/model.safetensors f32.gguf` (when --bin or .build/debug/aicompress exists)
  train.txt, calib.txt, eval.txt    the three splits
  train.log     loss per 50 steps; at the end the held-out loss and the perplexity of eval.txt computed
                as llama-perplexity -c 128 does (second half of each chunk scored), which llama.cpp's
                figure for f32.gguf must match

Tokenizer: byte-level BPE trained on train.txt with `tokenizers` (VOCAB tokens: 256 bytes,
<|begin_of_text|> 0, <|end_of_text|> 1, merges), Llama 3's split regex (llama.cpp `llama-bpe`),
BOS added. Model: LlamaForCausalLM, LAYERS layers, hidden 256, intermediate 768 (all rows multiples
of 256, so Q4_K_M keeps its K-quants), 4 heads / 2 kv heads of 64, RoPE theta 10000 as Hugging Face
applies it (rotate_half), RMSNorm eps 1e-5, SwiGLU, context 256. Training: next-token cross
entropy on windows of 255 tokens after a BOS (as llama-perplexity scores chunks), AdamW, warmup then
cosine decay, seed 0 for init and batches. Deterministic on one machine, Python and jax version:
two 3-step runs wrote byte-identical model.safetensors and tokenizer.json (the tokenizer also equal
to the 400-step run's); the 400-step run itself was made once. XLA's CPU reductions may order
differently on another CPU or thread count, so expect equal figures there only to float rounding.
"""
import ast
import json
import math
import os
import subprocess
import sys
import sysconfig
import time

import numpy as np

try:
    import jax
    import jax.numpy as jnp
    from safetensors.numpy import save_file
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
except ImportError:
    sys.exit("make-trained-llama.py needs jax, numpy, safetensors and tokenizers: "
             "pip install jax numpy safetensors tokenizers")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, LAYERS, HIDDEN, FF, HEADS, KV_HEADS, CTX = 2048, 4, 256, 768, 4, 2, 128
EVAL_CHARS, CALIB_CHARS = 90_000, 90_000
BATCH, LR, WARMUP, WEIGHT_DECAY = 8, 3e-3, 30, 0.1
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN, "intermediate_size": FF,
    "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
    "vocab_size": VOCAB, "max_position_embeddings": CTX, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
    "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1,
    "torch_dtype": "float32",
}


def documents():
    """The documentation texts, in a fixed order: topics by name, then docstrings by file and position."""
    from pydoc_data import topics
    docs = [topics.topics[k].strip() for k in sorted(topics.topics)]
    lib = sysconfig.get_paths()["stdlib"]
    skip = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "__pycache__"}
    for root, dirs, files in os.walk(lib):
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("test"))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            try:
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    tree = ast.parse(f.read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc and len(doc) >= 200:
                        docs.append(doc.strip())
    seen, unique = set(), []
    for d in docs:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return unique


def split(docs):
    train, calib, evaluation = [], [], []
    for i, d in enumerate(docs):
        if i % 10 == 0 and sum(map(len, evaluation)) < EVAL_CHARS:
            evaluation.append(d)
        elif i % 10 == 1 and sum(map(len, calib)) < CALIB_CHARS:
            calib.append(d)
        else:
            train.append(d)
    return ["\n\n".join(part) + "\n" for part in (train, calib, evaluation)]


def tokenizer(train_text):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=[BOS, EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train_text.split("\n\n"), trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, 0)])
    return tok


def init(key):
    hd = HIDDEN // HEADS
    names = {"model.embed_tokens.weight": (VOCAB, HIDDEN), "lm_head.weight": (VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        names.update({p + "self_attn.q_proj.weight": (HEADS * hd, HIDDEN), p + "self_attn.k_proj.weight": (KV_HEADS * hd, HIDDEN),
                      p + "self_attn.v_proj.weight": (KV_HEADS * hd, HIDDEN), p + "self_attn.o_proj.weight": (HIDDEN, HEADS * hd),
                      p + "mlp.gate_proj.weight": (FF, HIDDEN), p + "mlp.up_proj.weight": (FF, HIDDEN),
                      p + "mlp.down_proj.weight": (HIDDEN, FF)})
    params = {}
    keys = jax.random.split(key, len(names))
    for k, (name, shape) in zip(keys, sorted(names.items())):
        # Residual-branch outputs scaled down by depth (GPT-2's init) so the stream starts near identity.
        std = 0.02 / math.sqrt(2 * LAYERS) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
        params[name] = std * jax.random.normal(k, shape, jnp.float32)
    for i in range(LAYERS):
        params[f"model.layers.{i}.input_layernorm.weight"] = jnp.ones(HIDDEN, jnp.float32)
        params[f"model.layers.{i}.post_attention_layernorm.weight"] = jnp.ones(HIDDEN, jnp.float32)
    params["model.norm.weight"] = jnp.ones(HIDDEN, jnp.float32)
    return params


def rms(x, w):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + CONFIG["rms_norm_eps"]) * w


def rope_tables(t):
    hd = HIDDEN // HEADS
    inv = 1.0 / (CONFIG["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = np.outer(np.arange(t), inv)
    ang = np.concatenate([ang, ang], axis=-1)
    return jnp.asarray(np.cos(ang), jnp.float32), jnp.asarray(np.sin(ang), jnp.float32)


def rotate(x, cos, sin):
    """Hugging Face's rotary embedding: dims i and i + hd/2 form a pair (rotate_half)."""
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def forward(params, tokens):
    b, t = tokens.shape
    hd = HIDDEN // HEADS
    cos, sin = rope_tables(t)
    mask = jnp.tril(jnp.ones((t, t), bool))
    x = params["model.embed_tokens.weight"][tokens]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        h = rms(x, params[p + "input_layernorm.weight"])
        q = (h @ params[p + "self_attn.q_proj.weight"].T).reshape(b, t, HEADS, hd).transpose(0, 2, 1, 3)
        k = (h @ params[p + "self_attn.k_proj.weight"].T).reshape(b, t, KV_HEADS, hd).transpose(0, 2, 1, 3)
        v = (h @ params[p + "self_attn.v_proj.weight"].T).reshape(b, t, KV_HEADS, hd).transpose(0, 2, 1, 3)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        # Query head h reads kv head h // (HEADS / KV_HEADS), as transformers' repeat_kv and llama.cpp do.
        k, v = jnp.repeat(k, HEADS // KV_HEADS, axis=1), jnp.repeat(v, HEADS // KV_HEADS, axis=1)
        att = jnp.where(mask, q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd), -1e30)
        o = (jax.nn.softmax(att, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(b, t, HEADS * hd)
        x = x + o @ params[p + "self_attn.o_proj.weight"].T
        h = rms(x, params[p + "post_attention_layernorm.weight"])
        g = h @ params[p + "mlp.gate_proj.weight"].T
        x = x + (jax.nn.silu(g) * (h @ params[p + "mlp.up_proj.weight"].T)) @ params[p + "mlp.down_proj.weight"].T
    return rms(x, params["model.norm.weight"]) @ params["lm_head.weight"].T


def loss_fn(params, batch):
    logits = forward(params, batch[:, :-1])
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, batch[:, 1:, None], axis=-1))


def schedule(step, steps):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / max(1, steps - WARMUP))))


@jax.jit
def train_step(params, m, v, batch, lr, t):
    loss, grads = jax.value_and_grad(loss_fn)(params, batch)
    b1, b2 = 0.9, 0.95
    new_p, new_m, new_v = {}, {}, {}
    for name in params:
        g = grads[name]
        new_m[name] = b1 * m[name] + (1 - b1) * g
        new_v[name] = b2 * v[name] + (1 - b2) * g * g
        mhat, vhat = new_m[name] / (1 - b1 ** t), new_v[name] / (1 - b2 ** t)
        decay = WEIGHT_DECAY if params[name].ndim == 2 else 0.0
        new_p[name] = params[name] - lr * (mhat / (jnp.sqrt(vhat) + 1e-8) + decay * params[name])
    return new_p, new_m, new_v, loss


def windows(ids, rng, n):
    """n training rows: BOS then CTX-1 tokens from a random offset."""
    starts = rng.integers(0, len(ids) - CTX, size=n)
    rows = np.stack([ids[s:s + CTX] for s in starts])
    rows[:, 0] = 0
    return rows


def held_out_loss(params, ids):
    """Mean loss over non-overlapping CTX windows scoring every token (not llama-perplexity's second half)."""
    rows = [np.concatenate([[0], ids[s:s + CTX - 1]]) for s in range(0, len(ids) - CTX, CTX - 1)]
    f = jax.jit(loss_fn)
    return float(np.mean([f(params, jnp.asarray(np.stack(rows[i:i + BATCH]))) for i in range(0, len(rows), BATCH)]))


def llama_perplexity(params, ids):
    """eval.txt's perplexity as llama-perplexity -c CTX computes it: BOS-first chunks, second halves scored."""
    n = len(ids) // CTX
    rows = ids[: n * CTX].reshape(n, CTX).copy()
    rows[:, 0] = 0
    f = jax.jit(lambda p, x: jax.nn.log_softmax(forward(p, x), axis=-1))
    nll = []
    for i in range(0, n, BATCH):
        logp = np.asarray(f(params, jnp.asarray(rows[i:i + BATCH])), np.float64)
        for r, row in enumerate(rows[i:i + BATCH]):
            nll.extend(-logp[r, t, row[t + 1]] for t in range(CTX // 2, CTX - 1))
    nll = np.asarray(nll)
    ppl = math.exp(nll.mean())
    return ppl, ppl * nll.std() / math.sqrt(len(nll) - 1), n


def main():
    args = sys.argv[1:]
    steps, binary = 400, os.path.join(ROOT, ".build", "debug", "aicompress")
    if "--steps" in args:
        i = args.index("--steps")
        steps = int(args[i + 1])
        del args[i:i + 2]
    if "--bin" in args:
        i = args.index("--bin")
        binary = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    out = args[0]
    hf = os.path.join(out, "hf")
    os.makedirs(hf, exist_ok=True)
    train_text, calib_text, eval_text = split(documents())
    for name, text in (("train.txt", train_text), ("calib.txt", calib_text), ("eval.txt", eval_text)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
    tok = tokenizer(train_text)
    tok.save(os.path.join(hf, "tokenizer.json"))
    with open(os.path.join(hf, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": BOS, "eos_token": EOS, "add_bos_token": True, "tokenizer_class": "PreTrainedTokenizerFast",
                   "model_max_length": CTX}, f, indent=2)
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    encode = lambda text: np.asarray(tok.encode(text, add_special_tokens=False).ids, np.int32)
    train_ids, eval_ids = encode(train_text), encode(eval_text)

    log = open(os.path.join(out, "train.log"), "w")
    say = lambda s: (print(s, flush=True), log.write(s + "\n"))
    say(f"text: train {len(train_text):,} chars {len(train_ids):,} tokens, calib {len(calib_text):,} chars, "
        f"eval {len(eval_text):,} chars {len(eval_ids):,} tokens; vocab {tok.get_vocab_size()}; steps {steps} x {BATCH} x {CTX}")
    params = init(jax.random.PRNGKey(0))
    say(f"parameters: {sum(int(a.size) for a in params.values()):,}")
    m = {k: jnp.zeros_like(a) for k, a in params.items()}
    v = {k: jnp.zeros_like(a) for k, a in params.items()}
    rng = np.random.default_rng(0)
    start = time.time()
    for step in range(steps):
        batch = jnp.asarray(windows(train_ids, rng, BATCH))
        params, m, v, loss = train_step(params, m, v, batch, schedule(step, steps), step + 1)
        if step % 50 == 0 or step == steps - 1:
            say(f"step {step} loss {float(loss):.6f} ({time.time() - start:.0f} s)")
    held = held_out_loss(params, eval_ids)
    say(f"eval loss {held:.6f} perplexity {math.exp(held):.3f} (every token of {CTX}-token windows); "
        f"training {time.time() - start:.0f} s")
    ppl, err, chunks = llama_perplexity(params, np.concatenate([[0], eval_ids]).astype(np.int32))
    say(f"eval.txt perplexity as llama-perplexity -c {CTX} scores it: {ppl:.4f} +/- {err:.5f} ({chunks} chunks)")
    save_file({k: np.asarray(a, np.float32) for k, a in sorted(params.items())}, os.path.join(hf, "model.safetensors"),
              metadata={"format": "pt"})
    if os.path.exists(binary):
        subprocess.run([binary, "convert", os.path.join(hf, "model.safetensors"), os.path.join(out, "f32.gguf")],
                       check=True, stdout=subprocess.DEVNULL)
    else:
        say(f"no {binary}: f32.gguf not written")
    log.close()


if __name__ == "__main__":
    main()
