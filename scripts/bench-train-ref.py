#!/usr/bin/env python3
"""Reference implementations timed by scripts/bench-train.sh (baselines in the same run).

  bench-train-ref.py numpy-train MODEL.onnx DATA [options]   hand-written forward/backward
  bench-train-ref.py torch-train MODEL.onnx DATA [options]   the same loop in PyTorch (CPU)
  bench-train-ref.py ort-eval    MODEL.onnx DATA [--batch-size 256]

DATA is a CSV with a header and a 'label' column (read with np.loadtxt into float32, as
aicompress parses it) or X.npy (labels from the sibling file X with -x.npy -> -y.npy).
Training: MLP of Gemm(transB=1) layers with Relu between them, weights taken from MODEL.onnx
(the same initial weights aicompress starts from), float32, mean cross-entropy on the logits,
mini-batches of --batch-size rows in a fresh random order each epoch (the last one partial),
SGD (p -= lr * g, optional momentum as PyTorch) or Adam (PyTorch's rule, bias correction).

Prints `key value` lines: import_s (Python imports after interpreter start), load_s (data +
model), loop_s (the epochs only; ort-eval: run_s, all InferenceSession.run calls), session_s
(ort-eval), loss (mean batch loss of the last epoch), acc (accuracy on DATA after training /
of the model). The calling script measures the process's wall time separately.
Threads: --threads (default 1) for PyTorch and onnxruntime; numpy's BLAS follows the
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS environment set by the caller.
"""
import time

T0 = time.perf_counter()
import argparse  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402


def load_data(path):
    if path.endswith(".npy"):
        x = np.load(path).astype(np.float32, copy=False)
        y = np.load(path[:-len("-x.npy")] + "-y.npy") if path.endswith("-x.npy") else None
        return x, y
    with open(path) as f:
        header = f.readline().strip().split(",")
    a = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    li = header.index("label")
    y = a[:, li].astype(np.int64)
    x = np.ascontiguousarray(np.delete(a, li, axis=1))
    return x, y


def load_mlp(path):
    """[(W [out,in], b [out])] of a chain Gemm(transB=1) -> Relu -> ... -> Gemm."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    layers = []
    for n in m.graph.node:
        if n.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            assert attrs.get("transB", 0) == 1 and attrs.get("transA", 0) == 0, "expects Gemm transB=1"
            layers.append((inits[n.input[1]].astype(np.float32), inits[n.input[2]].astype(np.float32)))
        else:
            assert n.op_type == "Relu", f"unexpected op {n.op_type}"
    return layers


def batches(rng, n, bs):
    order = rng.permutation(n)
    return [order[i:i + bs] for i in range(0, n, bs)]


def numpy_train(args, x, y, layers):
    params = [p.copy() for wb in layers for p in wb]   # W1, b1, W2, b2, ...
    nl = len(layers)
    f32 = np.float32
    lr, mom, b1, b2, eps = f32(args.lr), f32(args.momentum), f32(0.9), f32(0.999), f32(1e-8)
    state1 = [np.zeros_like(p) for p in params]
    state2 = [np.zeros_like(p) for p in params]
    rng = np.random.default_rng(args.seed)
    step = 0
    loss = 0.0
    t = time.perf_counter()
    for _ in range(args.epochs):
        losses = []
        for idx in batches(rng, len(x), args.batch_size):
            xb, yb = x[idx], y[idx]
            bsz = len(idx)
            acts, pre = [xb], []
            for i in range(nl):
                z = acts[-1] @ params[2 * i].T + params[2 * i + 1]
                pre.append(z)
                if i < nl - 1:
                    acts.append(np.maximum(z, f32(0)))
            z = pre[-1]
            zmax = z.max(axis=1, keepdims=True)
            e = np.exp(z - zmax)
            s = e.sum(axis=1, keepdims=True)
            logp = (z - zmax) - np.log(s)
            losses.append(-float(logp[np.arange(bsz), yb].mean()))
            dz = e / s
            dz[np.arange(bsz), yb] -= f32(1)
            dz /= f32(bsz)
            grads = [None] * len(params)
            for i in range(nl - 1, -1, -1):
                grads[2 * i] = dz.T @ acts[i]
                grads[2 * i + 1] = dz.sum(axis=0)
                if i > 0:
                    dz = (dz @ params[2 * i]) * (pre[i - 1] > 0)
            step += 1
            if args.optimizer == "sgd":
                for p, g, v in zip(params, grads, state1):
                    if mom:
                        v *= mom
                        v += g
                        g = v
                    p -= lr * g
            else:  # adam
                bc1 = f32(1 - 0.9 ** step)
                bc2 = f32(np.sqrt(1 - 0.999 ** step))
                for p, g, m, v in zip(params, grads, state1, state2):
                    m *= b1
                    m += (f32(1) - b1) * g
                    v *= b2
                    v += (f32(1) - b2) * (g * g)
                    p -= (lr / bc1) * m / (np.sqrt(v) / bc2 + eps)
        loss = float(np.mean(losses))
    loop = time.perf_counter() - t
    h = x
    for i in range(nl):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < nl - 1:
            h = np.maximum(h, 0)
    return loop, loss, float((h.argmax(axis=1) == y).mean())


def torch_train(args, x, y, layers):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    params = [torch.tensor(p, requires_grad=True) for wb in layers for p in wb]
    nl = len(layers)
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum)
    else:
        opt = torch.optim.Adam(params, lr=args.lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rng = np.random.default_rng(args.seed)

    def forward(h):
        for i in range(nl):
            h = F.linear(h, params[2 * i], params[2 * i + 1])
            if i < nl - 1:
                h = F.relu(h)
        return h

    loss = 0.0
    t = time.perf_counter()
    for _ in range(args.epochs):
        losses = []
        for idx in batches(rng, len(x), args.batch_size):
            it = torch.from_numpy(idx)
            out = F.cross_entropy(forward(xt[it]), yt[it])
            opt.zero_grad(set_to_none=True)
            out.backward()
            opt.step()
            losses.append(out.item())
        loss = float(np.mean(losses))
    loop = time.perf_counter() - t
    with torch.no_grad():
        acc = float((forward(xt).argmax(dim=1) == yt).float().mean())
    return loop, loss, acc


def ort_eval(args, x, y):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t = time.perf_counter()
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    session_s = time.perf_counter() - t
    inp = sess.get_inputs()[0]
    shape = inp.shape
    if len(shape) > 2:   # e.g. the CNN's [N,1,8,8]
        x = x.reshape((-1,) + tuple(int(d) for d in shape[1:]))
    out_name = sess.get_outputs()[0].name
    t = time.perf_counter()
    outs = [sess.run([out_name], {inp.name: x[i:i + args.batch_size]})[0]
            for i in range(0, len(x), args.batch_size)]
    run_s = time.perf_counter() - t
    pred = np.concatenate(outs).argmax(axis=1)
    acc = float((pred == y).mean()) if y is not None else float("nan")
    return session_s, run_s, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["numpy-train", "torch-train", "ort-eval"])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None, help="64 for training, 256 for ort-eval")
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--lr", type=float, default=None, help="0.01 for sgd, 0.001 for adam")
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    args = ap.parse_args()
    if args.batch_size is None:
        args.batch_size = 256 if args.mode == "ort-eval" else 64
    if args.lr is None:
        args.lr = 0.01 if args.optimizer == "sgd" else 0.001
    if args.mode == "torch-train":
        import torch  # noqa: F401  (its import is part of import_s, not load_s)
    elif args.mode == "ort-eval":
        import onnxruntime  # noqa: F401
    print(f"import_s {time.perf_counter() - T0:.4f}")

    t = time.perf_counter()
    x, y = load_data(args.data)
    layers = load_mlp(args.model) if args.mode != "ort-eval" else None
    print(f"load_s {time.perf_counter() - t:.4f}")
    if args.mode == "ort-eval":
        session_s, run_s, acc = ort_eval(args, x, y)
        print(f"session_s {session_s:.4f}")
        print(f"run_s {run_s:.4f}")
    else:
        loop, loss, acc = (numpy_train if args.mode == "numpy-train" else torch_train)(args, x, y, layers)
        print(f"loop_s {loop:.4f}")
        print(f"loss {loss:.4f}")
    print(f"acc {acc:.4f}")
    print(f"rows {len(x)}")


if __name__ == "__main__":
    main()
