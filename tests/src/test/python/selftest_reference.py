#!/usr/bin/env python3
"""Quick self-check of torch_reference.py and safetensors_io.py.

    /usr/bin/python3 tests/src/test/python/selftest_reference.py

Prints one line per check and finally "N passed, M failed" (exit status 1 on any failure).
"""

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io as st  # noqa: E402
import torch_reference as ref  # noqa: E402

SCRIPT = os.path.join(HERE, "torch_reference.py")
PYTHON = sys.executable or "/usr/bin/python3"

VIT_CFG = {"kind": "vit", "image_size": 8, "channels": 2, "patch": 4, "classes": 5, "dim": 16,
           "depth": 2, "heads": 2, "mlp": 32, "ln_eps": 1e-6, "qkv_bias": True,
           "attention": ["softmax", "twicing"]}
GPT_PRE = {"kind": "gpt", "vocab": 17, "context": 12, "dim": 16, "depth": 2, "heads": 4, "mlp": 32,
           "ln_eps": 1e-5, "norm": "pre", "activation": "gelu", "positions": "learned",
           "bias": True, "attn_bias": True, "embed_scale": False,
           "attention": ["twicing", "softmax"]}
GPT_POST = {"kind": "gpt", "vocab": 17, "context": 12, "dim": 16, "depth": 2, "heads": 2, "mlp": 24,
            "ln_eps": 1e-5, "norm": "post", "activation": "relu", "positions": "sinusoidal",
            "bias": True, "attn_bias": False, "embed_scale": True,
            "attention": ["softmax", "twicing"]}

TMP = tempfile.mkdtemp(prefix="twicing_selftest_")
RESULTS = []


# ----------------------------------------------------------------------------- helpers

def random_weights(cfg, seed):
    """Random but well-conditioned parameters (LayerNorm params perturbed away from 1/0)."""
    g = np.random.default_rng(seed)
    model = ref.build_model(ref.parse_config(cfg))
    out = {}
    for n, p in model.named_parameters():
        shape = tuple(p.shape)
        if p.ndim >= 2 and n.endswith("weight") and "wte" not in n and "wpe" not in n:
            fan_in = int(np.prod(shape[1:]))
            a = g.standard_normal(shape) / math.sqrt(fan_in)
        elif ".ln_" in n or "norm" in n or n.startswith("transformer.ln_f"):
            a = (1.0 if n.endswith("weight") else 0.0) + 0.1 * g.standard_normal(shape)
        else:
            a = 0.3 * g.standard_normal(shape)
        out[n] = a.astype(np.float64)
    return out


def random_inputs(cfg, seed, B=3, T=7, ignore=False):
    g = np.random.default_rng(seed)
    if cfg["kind"] == "vit":
        pixels = g.standard_normal((B, cfg["channels"], cfg["image_size"], cfg["image_size"]))
        return {"pixels": pixels.astype(np.float32),
                "labels": g.integers(0, cfg["classes"], size=B).astype(np.int64)}
    labels = g.integers(0, cfg["vocab"], size=(B, T)).astype(np.int64)
    if ignore:
        labels[0, :2] = -100
        labels[2, -1] = -100
    return {"tokens": g.integers(0, cfg["vocab"], size=(B, T)).astype(np.int64), "labels": labels}


def save_case(name, cfg, weights, inputs):
    paths = {k: os.path.join(TMP, "%s.%s" % (name, k)) for k in ("cfg", "w", "in")}
    with open(paths["cfg"], "w") as f:
        json.dump(cfg, f)
    st.write(paths["w"], weights)
    st.write(paths["in"], inputs)
    return paths


def run_ref(paths, mode, out_name, *extra, expect_ok=True):
    out = os.path.join(TMP, out_name + ".safetensors")
    cmd = [PYTHON, SCRIPT, "--config", paths["cfg"], "--weights", paths["w"], "--inputs",
           paths["in"], "--mode", mode, "--out", out] + [str(e) for e in extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if expect_ok:
        if p.returncode != 0:
            raise AssertionError("reference failed (%d): %s" % (p.returncode, p.stderr.strip()))
        return st.read(out)[0]
    return p


def in_process_loss(cfg, weights, inputs, label_smoothing=0.0, ignore_index=-100):
    cfg = ref.parse_config(cfg)
    model = ref.build_model(cfg)
    ref.load_weights(model, weights)
    x, labels = ref.prepare_inputs(cfg, inputs, need_labels=True, ignore_index=ignore_index)
    with torch.no_grad():
        return ref.loss_fn(model(x), labels, label_smoothing, ignore_index).item()


def in_process_grads(cfg, weights, inputs):
    out, _ = ref.run_mode(ref.parse_config(cfg), weights, inputs, "grads")
    return {k[:-5]: v for k, v in out.items() if k.endswith(".grad")}, float(out["loss"])


def close(a, b, rtol, atol, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError("%s: shape %s vs %s" % (what, a.shape, b.shape))
    err = np.abs(a - b)
    lim = atol + rtol * np.abs(b)
    if not np.all(err <= lim):
        i = np.unravel_index(np.argmax(err - lim), err.shape)
        raise AssertionError("%s: max violation at %s: %r vs %r" % (what, i, a[i], b[i]))


def check(name):
    def deco(fn):
        def wrapped():
            t0 = time.time()
            try:
                fn()
                RESULTS.append((name, True))
                print("PASS %-44s (%.1fs)" % (name, time.time() - t0))
            except Exception as e:  # noqa: BLE001
                RESULTS.append((name, False))
                print("FAIL %-44s %s: %s" % (name, type(e).__name__, e))
        wrapped.__name__ = fn.__name__
        TESTS.append(wrapped)
        return wrapped
    return deco


TESTS = []
CASES = {}


def case(name):
    """Cached (cfg, weights, inputs, paths) for the three model configs."""
    if name not in CASES:
        cfg, seed = {"vit": (VIT_CFG, 1), "gpt_pre": (GPT_PRE, 2), "gpt_post": (GPT_POST, 3)}[name]
        w = random_weights(cfg, seed)
        inp = random_inputs(cfg, seed + 10, ignore=(name == "gpt_pre"))
        CASES[name] = (cfg, w, inp, save_case(name, cfg, w, inp))
    return CASES[name]


# ----------------------------------------------------------------------------- safetensors

@check("safetensors round trip + header layout")
def _():
    g = np.random.default_rng(0)
    tensors = {"b.f64": g.standard_normal((2, 3)), "a.f32": g.standard_normal(5).astype(np.float32),
               "c.f16": np.array([1.5, -2.0], dtype=np.float16), "d.i64": np.arange(6).reshape(2, 3),
               "e.i32": np.array([[-1]], dtype=np.int32), "f.bool": np.array([True, False, True]),
               "scalar": np.array(3.25), "empty": np.zeros((0, 4), dtype=np.float32)}
    path = os.path.join(TMP, "rt.safetensors")
    st.write(path, tensors, {"k": "v"})
    back, meta = st.read(path)
    assert meta == {"k": "v"}, meta
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype, (k, back[k].dtype, v.dtype)
        assert back[k].shape == v.shape and np.array_equal(back[k], v), k
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, n
    header = json.loads(raw[8:8 + n].decode())
    names = [k for k in header if k != "__metadata__"]
    assert names == sorted(names), names
    off = 0
    for k in names:
        b, e = header[k]["data_offsets"]
        assert b == off, (k, b, off)
        off = e
    assert off == len(raw) - 8 - n
    assert header["scalar"]["shape"] == [] and header["f.bool"]["dtype"] == "BOOL"


@check("safetensors reads foreign order, BF16, no metadata")
def _():
    data = np.array([1.0, 2.0], dtype="<f4").tobytes() + np.array([7], dtype="<i8").tobytes()
    bf = np.array([0x3F80, 0xC040], dtype="<u2").tobytes()  # 1.0, -3.0
    hdr = {"z": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "y": {"shape": [1], "data_offsets": [8, 16], "dtype": "I64"},
           "x": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]}}
    h = json.dumps(hdr).encode()
    t, meta = st.decode(struct.pack("<Q", len(h)) + h + data + bf)
    assert meta == {}
    assert t["z"].tolist() == [1.0, 2.0] and t["y"].tolist() == [7] and t["x"].tolist() == [1.0, -3.0]
    # BF16 writer round-trips representable values
    t2, _ = st.decode(st.encode({"w": np.array([0.5, -3.0, 1.0], np.float32)}, dtypes={"w": "BF16"}))
    assert t2["w"].tolist() == [0.5, -3.0, 1.0]
    bad = {"z": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}
    h = json.dumps(bad).encode()
    try:
        st.decode(struct.pack("<Q", len(h)) + h + data)
    except st.SafetensorsError as e:
        assert "'z'" in str(e)
    else:
        raise AssertionError("mis-sized tensor was accepted")


# ----------------------------------------------------------------------------- attention math

@check("twicing == (2A - A@A) v (float64, random)")
def _():
    g = torch.Generator().manual_seed(0)
    A = torch.softmax(torch.randn(3, 4, 9, 9, generator=g, dtype=torch.float64) * 2, dim=-1)
    v = torch.randn(3, 4, 9, 5, generator=g, dtype=torch.float64)
    explicit = (2 * A - A @ A) @ v
    close(ref.attend(A, v, "twicing"), explicit, 0, 1e-13, "twicing")
    close(ref.attend(A, v, "softmax"), A @ v, 0, 0, "softmax")
    T = 2 * A - A @ A
    close(T.sum(-1), torch.ones(3, 4, 9, dtype=torch.float64), 0, 1e-13, "row sums of 2A-A^2")


@check("attention modules vs explicit per-head formula")
def _():
    torch.manual_seed(0)
    D, H, N = 12, 3, 6
    dh = D // H
    x = torch.randn(2, N, D, dtype=torch.float64)
    for causal in (False, True):
        for kind in ("softmax", "twicing"):
            if causal:
                m = ref.CausalSelfAttention(D, H, True, kind).double()
                W, b, Wo, bo = m.c_attn.weight, m.c_attn.bias, m.c_proj.weight, m.c_proj.bias
            else:
                m = ref.Attention(D, H, True, kind).double()
                W, b, Wo, bo = m.qkv.weight, m.qkv.bias, m.proj.weight, m.proj.bias
            with torch.no_grad():
                got = m(x)
                qkv = x @ W.T + b
                heads = []
                for h in range(H):
                    q = qkv[..., h * dh:(h + 1) * dh]
                    k = qkv[..., D + h * dh:D + (h + 1) * dh]
                    v = qkv[..., 2 * D + h * dh:2 * D + (h + 1) * dh]
                    s = q @ k.transpose(-1, -2) / math.sqrt(dh)
                    if causal:
                        s = s + torch.triu(torch.full((N, N), float("-inf"), dtype=s.dtype), 1)
                    A = torch.softmax(s, -1)
                    T = 2 * A - A @ A if kind == "twicing" else A
                    if causal:
                        assert torch.all(torch.triu(T, 1) == 0)
                    heads.append(T @ v)
                want = torch.cat(heads, -1) @ Wo.T + bo
            close(got, want, 0, 1e-12, "%s causal=%s" % (kind, causal))


@check("state_dict names follow the configs")
def _():
    names = lambda c: set(n for n, _ in ref.build_model(ref.parse_config(c)).named_parameters())
    v = names(VIT_CFG)
    for n in ("patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
              "blocks.1.attn.qkv.bias", "blocks.0.mlp.fc2.weight", "norm.weight", "head.bias"):
        assert n in v, n
    assert len(v) == 8 + 2 * 12, sorted(v)
    pre, post = names(GPT_PRE), names(GPT_POST)
    assert "transformer.ln_f.weight" in pre and "transformer.wpe.weight" in pre
    assert not any("ln_f" in n or "wpe" in n or "lm_head" in n for n in post), sorted(post)
    assert "transformer.h.0.attn.c_attn.bias" not in post and "transformer.h.0.mlp.c_fc.bias" in post
    nobias = dict(GPT_PRE, bias=False, attn_bias=False)
    assert not any(n.endswith(".bias") and ".mlp." in n or ".attn." in n and n.endswith(".bias")
                   for n in names(nobias))
    vnb = names(dict(VIT_CFG, qkv_bias=False))
    assert "blocks.0.attn.qkv.bias" not in vnb and "blocks.0.attn.proj.bias" in vnb


@check("gpt is causal (pre and post)")
def _():
    for name in ("gpt_pre", "gpt_post"):
        cfg, w, inp, _ = case(name)
        c = ref.parse_config(cfg)
        model = ref.build_model(c)
        ref.load_weights(model, w)
        toks = torch.from_numpy(inp["tokens"])
        toks2 = toks.clone()
        toks2[:, 4:] = (toks2[:, 4:] + 5) % c["vocab"]
        with torch.no_grad():
            a, b = model(toks), model(toks2)
        close(a[:, :4], b[:, :4], 0, 1e-12, name + " prefix")
        assert (a[:, 4:] - b[:, 4:]).abs().max() > 1e-3, name


def functional_forward(cfg, w, x):
    """Second, loop-per-head implementation written straight from the spec text."""
    W = {k: torch.from_numpy(v) for k, v in w.items()}
    ln = lambda t, p: F.layer_norm(t, t.shape[-1:], W[p + ".weight"], W[p + ".bias"], cfg["ln_eps"])
    lin = lambda t, p: t @ W[p + ".weight"].T + (W[p + ".bias"] if p + ".bias" in W else 0)

    def attn(t, p, qkv_name, proj_name, kind, causal):
        B, N, D = t.shape
        H = cfg["heads"]; dh = D // H
        qkv = lin(t, p + "." + qkv_name)
        outs = []
        for h in range(H):
            q, k, v = (qkv[..., j * D + h * dh: j * D + (h + 1) * dh] for j in range(3))
            s = q @ k.transpose(-1, -2) / math.sqrt(dh)
            if causal:
                s = s.masked_fill(torch.ones(N, N).triu(1).bool(), float("-inf"))
            A = torch.softmax(s, -1)
            outs.append((2 * A - A @ A) @ v if kind == "twicing" else A @ v)
        return lin(torch.cat(outs, -1), p + "." + proj_name)

    if cfg["kind"] == "vit":
        P = cfg["patch"]
        t = F.conv2d(x, W["patch_embed.proj.weight"], W["patch_embed.proj.bias"], stride=P)
        t = t.flatten(2).transpose(1, 2)
        t = torch.cat([W["cls_token"].expand(t.shape[0], 1, -1), t], 1) + W["pos_embed"]
        for i, kind in enumerate(cfg["attention"]):
            p = "blocks.%d" % i
            t = t + attn(ln(t, p + ".norm1"), p + ".attn", "qkv", "proj", kind, False)
            t = t + lin(F.gelu(lin(ln(t, p + ".norm2"), p + ".mlp.fc1")), p + ".mlp.fc2")
        return lin(ln(t, "norm")[:, 0], "head")
    B, T = x.shape
    D = cfg["dim"]
    t = W["transformer.wte.weight"][x] * (math.sqrt(D) if cfg["embed_scale"] else 1.0)
    if cfg["positions"] == "learned":
        t = t + W["transformer.wpe.weight"][:T]
    else:
        pos = torch.zeros(T, D, dtype=torch.float64)
        for pp in range(T):
            for i in range(D // 2):
                ang = pp / 10000 ** (2 * i / D)
                pos[pp, i], pos[pp, D // 2 + i] = math.sin(ang), math.cos(ang)
        t = t + pos
    act = F.gelu if cfg["activation"] == "gelu" else F.relu
    for i, kind in enumerate(cfg["attention"]):
        p = "transformer.h.%d" % i
        a = lambda u: attn(u, p + ".attn", "c_attn", "c_proj", kind, True)
        m = lambda u: lin(act(lin(u, p + ".mlp.c_fc")), p + ".mlp.c_proj")
        if cfg["norm"] == "pre":
            t = t + a(ln(t, p + ".ln_1"))
            t = t + m(ln(t, p + ".ln_2"))
        else:
            t = ln(t + a(t), p + ".ln_1")
            t = ln(t + m(t), p + ".ln_2")
    if cfg["norm"] == "pre":
        t = ln(t, "transformer.ln_f")
    return t @ W["transformer.wte.weight"].T


@check("modules == independent per-head functional model")
def _():
    for name in ("vit", "gpt_pre", "gpt_post"):
        cfg, w, inp, _ = case(name)
        x = (torch.from_numpy(inp["pixels"].astype(np.float64)) if name == "vit"
             else torch.from_numpy(inp["tokens"]))
        key = "pixels" if name == "vit" else "tokens"
        mine, _ = ref.run_mode(ref.parse_config(cfg), w, {key: inp[key]}, "forward")
        with torch.no_grad():
            want = functional_forward(cfg, w, x).numpy()
        close(mine["logits"], want, 1e-10, 1e-10, name)


# ----------------------------------------------------------------------------- CLI modes

@check("forward deterministic + matches in-process")
def _():
    for name in ("vit", "gpt_post"):
        cfg, w, inp, paths = case(name)
        a = run_ref(paths, "forward", name + ".fwd1")["logits"]
        if name == "vit":  # second process run must be bit-identical
            b = run_ref(paths, "forward", name + ".fwd2")["logits"]
            assert a.dtype == np.float64 and np.array_equal(a, b), name
        mine, _ = ref.run_mode(ref.parse_config(cfg), w, {"pixels" if name == "vit" else "tokens":
                               inp["pixels" if name == "vit" else "tokens"]}, "forward")
        assert np.array_equal(mine["logits"], a), name
        B = inp["labels"].shape[0]
        want = (B, cfg["classes"]) if name == "vit" else (B, 7, cfg["vocab"])
        assert a.shape == want, (a.shape, want)


@check("forward --dtype float32 close to float64")
def _():
    cfg, w, inp, paths = case("gpt_pre")
    a = ref.run_mode(ref.parse_config(cfg), w, {"tokens": inp["tokens"]}, "forward")[0]["logits"]
    b = run_ref(paths, "forward", "pre.f32", "--dtype", "float32")["logits"]
    assert b.dtype == np.float64 and not np.array_equal(a, b)
    close(b, a, 1e-4, 1e-4, "f32 vs f64")


@check("grads match finite differences (float64)")
def _():
    spots = {"vit": [("blocks.1.attn.qkv.weight", (5, 3)), ("cls_token", (0, 0, 2)),
                     ("blocks.0.norm1.weight", (4,)), ("patch_embed.proj.weight", (1, 1, 2, 3))],
             "gpt_pre": [("transformer.wte.weight", (3, 1)), ("transformer.h.0.attn.c_attn.weight",
                                                              (20, 7)),
                         ("transformer.wpe.weight", (2, 5)), ("transformer.ln_f.bias", (0,))],
             "gpt_post": [("transformer.h.1.attn.c_attn.weight", (40, 2)),
                          ("transformer.h.1.ln_2.weight", (3,)), ("transformer.h.0.mlp.c_fc.bias", (9,))]}
    for name, points in spots.items():
        cfg, w, inp, paths = case(name)
        ls = 0.1 if name == "gpt_pre" else 0.0
        extra = ["--label-smoothing", ls] if ls else []
        out = run_ref(paths, "grads", name + ".grads", *extra)
        loss = float(out["loss"])
        assert out["loss"].shape == (), out["loss"].shape
        close(loss, in_process_loss(cfg, w, inp, ls), 0, 1e-14, name + " loss")
        expected = {n + ".grad" for n in w} | ({"pixels.grad"} if name == "vit" else set())
        assert set(out) - {"loss"} == expected, sorted(set(out) ^ expected)
        h = 1e-6
        for pname, idx in points:
            wp, wm = dict(w), dict(w)
            wp[pname] = w[pname].copy(); wp[pname][idx] += h
            wm[pname] = w[pname].copy(); wm[pname][idx] -= h
            fd = (in_process_loss(cfg, wp, inp, ls) - in_process_loss(cfg, wm, inp, ls)) / (2 * h)
            close(out[pname + ".grad"][idx], fd, 1e-5, 1e-8, "%s %s%s" % (name, pname, idx))
        if name == "vit":
            idx = (1, 0, 3, 5)
            px = inp["pixels"].astype(np.float64)
            ip, im = dict(inp, pixels=px.copy()), dict(inp, pixels=px.copy())
            ip["pixels"][idx] += h
            im["pixels"][idx] -= h
            fd = (in_process_loss(cfg, w, ip) - in_process_loss(cfg, w, im)) / (2 * h)
            close(out["pixels.grad"][idx], fd, 1e-5, 1e-8, "vit pixels.grad")
        if name == "gpt_pre":  # loss is the mean over non-ignored tokens, with label smoothing
            c = ref.parse_config(cfg)
            m = ref.build_model(c); ref.load_weights(m, w)
            with torch.no_grad():
                logp = torch.log_softmax(m(torch.from_numpy(inp["tokens"])), -1).numpy()
            lab = inp["labels"]
            keep = lab != -100
            nll = -np.take_along_axis(logp, np.where(keep, lab, 0)[..., None], -1)[..., 0]
            smooth = -logp.mean(-1)
            manual = ((1 - ls) * nll + ls * smooth)[keep].mean()
            close(loss, manual, 0, 1e-12, "manual smoothed CE")


@check("adamw step 1 == hand-written AdamW; param groups")
def _():
    cfg, w, inp, paths = case("vit")
    lr, b1, b2, eps, wd = 1e-2, 0.8, 0.95, 1e-6, 0.1
    out = run_ref(paths, "adamw", "vit.adamw1", "--steps", 1, "--lr", lr, "--beta1", b1,
                  "--beta2", b2, "--eps", eps, "--weight-decay", wd)
    g0, loss0 = in_process_grads(cfg, w, inp)
    grads = dict({k + ".grad": v for k, v in g0.items()}, loss=np.array(loss0))
    close(out["loss.1"], grads["loss"], 0, 0, "loss.1")
    for pname, decayed in (("blocks.0.attn.qkv.weight", True), ("head.weight", True),
                           ("patch_embed.proj.weight", True), ("blocks.0.attn.qkv.bias", False),
                           ("blocks.1.norm2.weight", False), ("cls_token", False),
                           ("pos_embed", False)):
        p, g = w[pname], grads[pname + ".grad"]
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        p1 = p * (1 - lr * (wd if decayed else 0.0))
        p1 = p1 - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
        close(out[pname], p1, 1e-10, 1e-13, pname)
        close(out[pname + ".exp_avg"], m, 1e-12, 0, pname + ".exp_avg")
        close(out[pname + ".exp_avg_sq"], v, 1e-12, 0, pname + ".exp_avg_sq")
    expected = set(w) | {n + s for n in w for s in (".exp_avg", ".exp_avg_sq")} | {"loss.1"}
    assert set(out) == expected, sorted(set(out) ^ expected)


@check("adamw 3 steps == hand-written loop (gpt post)")
def _():
    cfg, w, inp, paths = case("gpt_post")
    lr, b1, b2, eps, wd = 3e-3, 0.9, 0.999, 1e-8, 0.05
    out = run_ref(paths, "adamw", "post.adamw3", "--steps", 3, "--lr", lr)
    params = {k: v.copy() for k, v in w.items()}
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v2 = {k: np.zeros_like(v) for k, v in w.items()}
    losses = []
    for t in range(1, 4):
        g, loss = in_process_grads(cfg, params, inp)
        losses.append(loss)
        for k in params:
            decay = wd if params[k].ndim >= 2 else 0.0
            params[k] = params[k] * (1 - lr * decay)
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v2[k] = b2 * v2[k] + (1 - b2) * g[k] ** 2
            denom = np.sqrt(v2[k] / (1 - b2 ** t)) + eps
            params[k] = params[k] - lr / (1 - b1 ** t) * m[k] / denom
    for t in range(3):
        close(out["loss.%d" % (t + 1)], losses[t], 1e-10, 0, "loss.%d" % (t + 1))
    assert losses[2] < losses[0], losses
    for k in params:
        close(out[k], params[k], 1e-8, 1e-12, k)
        close(out[k + ".exp_avg"], m[k], 1e-7, 1e-14, k + ".exp_avg")
        close(out[k + ".exp_avg_sq"], v2[k], 1e-7, 1e-18, k + ".exp_avg_sq")


@check("sgd momentum 2 steps == hand-written loop (gpt pre)")
def _():
    cfg, w, inp, paths = case("gpt_pre")
    lr, mu, wd = 0.05, 0.9, 0.05
    out = run_ref(paths, "adamw", "pre.sgd2", "--steps", 2, "--optimizer", "sgd", "--lr", lr,
                  "--momentum", mu, "--weight-decay", wd)
    params = {k: v.copy() for k, v in w.items()}
    buf = {}
    for t in range(2):
        g, loss = in_process_grads(cfg, params, inp)
        close(out["loss.%d" % (t + 1)], loss, 1e-10, 0, "loss")
        for k in params:
            d = g[k] + (wd if params[k].ndim >= 2 else 0.0) * params[k]
            buf[k] = d if t == 0 else mu * buf[k] + d
            params[k] = params[k] - lr * buf[k]
    for k in params:
        close(out[k], params[k], 1e-9, 1e-12, k)
        close(out[k + ".momentum"], buf[k], 1e-9, 1e-12, k + ".momentum")
    assert not any(k.endswith(".exp_avg") for k in out)


@check("sgd + clip_grad_norm_ 2 steps == hand-written loop (momentum 0, clip active)")
def _():
    cfg, w, inp, paths = case("gpt_pre")
    lr, wd, clip = 0.05, 0.05, 0.2
    out = run_ref(paths, "adamw", "pre.sgd0clip", "--steps", 2, "--optimizer", "sgd", "--lr", lr,
                  "--momentum", 0, "--weight-decay", wd, "--clip-norm", clip)
    params = {k: v.copy() for k, v in w.items()}
    for t in range(2):
        g, loss = in_process_grads(cfg, params, inp)
        close(out["loss.%d" % (t + 1)], loss, 1e-10, 0, "loss")
        norm = math.sqrt(sum(float((v ** 2).sum()) for v in g.values()))
        close(out["grad_norm.%d" % (t + 1)], norm, 1e-10, 0, "grad_norm")
        assert norm > clip, "the clip must be active for this check: norm %g" % norm
        coef = min(1.0, clip / (norm + 1e-6))
        for k in params:
            d = coef * g[k] + (wd if params[k].ndim >= 2 else 0.0) * params[k]
            params[k] = params[k] - lr * d  # momentum 0: plain SGD, no buffer
    for k in params:
        close(out[k], params[k], 1e-9, 1e-12, k)
        assert not out[k + ".momentum"].any(), "momentum 0 keeps no buffer"


@check("config dropout: forward ignores it, training modes refuse it without masks")
def _():
    cfg, w, inp, paths = case("gpt_pre")
    plain = ref.run_mode(ref.parse_config(cfg), w, {"tokens": inp["tokens"]}, "forward")[0]["logits"]
    dcfg = ref.parse_config(dict(cfg, dropout=0.3))
    dropped = ref.run_mode(dcfg, w, {"tokens": inp["tokens"]}, "forward")[0]["logits"]
    close(dropped, plain, 0, 0, "forward (eval) with dropout")
    for mode in ("grads", "adamw"):
        try:
            ref.run_mode(dcfg, w, inp, mode)
        except ref.SpecError as e:
            assert "dropout" in str(e), str(e)
        else:
            raise AssertionError("dropout 0.3 was accepted in --mode %s without masks" % mode)
    for bad in (dict(cfg, dropout=1.0), dict(cfg, dropout=-0.1), dict(cfg, dropout="0.1"),
                dict(cfg, attn_dropout=0.1), dict(cfg, rope=True)):
        try:
            ref.parse_config(bad)
        except ref.SpecError:
            pass
        else:
            raise AssertionError("accepted config %r" % {k: bad[k] for k in set(bad) - set(cfg)})
    ref.parse_config(dict(cfg, name="described only"))  # a descriptive key is fine
    dpaths = save_case("pre_dropout", dict(cfg, dropout=0.1), w, inp)
    p = run_ref(dpaths, "grads", "never", expect_ok=False)
    assert p.returncode == 2 and "dropout" in p.stderr, (p.returncode, p.stderr)


@check("fixed dropout masks: sites in order, grads == finite differences, bad masks refused")
def _():
    cfg, w, inp, _ = case("gpt_pre")
    rate = 0.25
    c = ref.parse_config(dict(cfg, dropout=rate))
    B, T = inp["tokens"].shape
    D, H = c["dim"], c["heads"]
    g = np.random.default_rng(7)
    shapes = [(B, T, D)] + [s for _ in range(c["depth"]) for s in ((B, H, T, T), (B, T, D), (B, T, D))]
    masks = {"dropout.%d" % k: (g.random(s) >= rate).astype(np.float64) for k, s in enumerate(shapes)}
    out = ref.run_mode(c, w, inp, "grads", dropout_masks=masks)[0]

    def loss_of(weights, mk):
        m = ref.build_model(c, masks=ref.FixedMasks(mk, torch.float64))
        ref.load_weights(m, weights)
        x, lab = ref.prepare_inputs(c, inp, need_labels=True)
        with torch.no_grad():
            return float(ref.loss_fn(m(x), lab))

    close(out["loss"], loss_of(w, masks), 0, 1e-14, "loss")
    ones = {k: np.ones_like(v) for k, v in masks.items()}
    assert abs(loss_of(w, ones) - loss_of(w, masks)) > 1e-3, "the masks change the loss"
    h = 1e-6
    for pname, idx in (("transformer.h.0.attn.c_attn.weight", (20, 7)), ("transformer.wte.weight", (3, 1)),
                       ("transformer.h.1.mlp.c_proj.weight", (5, 9))):
        wp, wm = dict(w), dict(w)
        wp[pname] = w[pname].copy(); wp[pname][idx] += h
        wm[pname] = w[pname].copy(); wm[pname][idx] -= h
        fd = (loss_of(wp, masks) - loss_of(wm, masks)) / (2 * h)
        close(out[pname + ".grad"][idx], fd, 1e-5, 1e-8, pname)
    bad = {"too few": {k: v for k, v in masks.items() if k != "dropout.%d" % (len(masks) - 1)},
           "too many": dict(masks, **{"dropout.%d" % len(masks): masks["dropout.0"]}),
           "wrong shape": dict(masks, **{"dropout.1": masks["dropout.0"]}),
           "not 0/1": dict(masks, **{"dropout.0": masks["dropout.0"] * 2})}
    for label, mk in bad.items():
        try:
            ref.run_mode(c, w, inp, "grads", dropout_masks=mk)
        except ref.SpecError:
            pass
        else:
            raise AssertionError("%s masks were accepted" % label)
    for mode in ("adamw", "forward"):
        try:
            ref.run_mode(c, w, inp, mode, dropout_masks=masks)
        except ref.SpecError:
            pass
        else:
            raise AssertionError("masks were accepted in --mode %s" % mode)


# ----------------------------------------------------------------------------- error handling

@check("missing / unexpected / mis-shaped weight fail loudly")
def _():
    cfg, w, inp, _ = case("gpt_pre")
    bad_sets = {
        "missing": ({k: v for k, v in w.items() if k != "transformer.h.1.mlp.c_fc.weight"},
                    "transformer.h.1.mlp.c_fc.weight"),
        "unexpected": (dict(w, **{"lm_head.weight": w["transformer.wte.weight"]}), "lm_head.weight"),
        "misshaped": (dict(w, **{"transformer.h.0.ln_1.bias": np.zeros(15)}),
                      "transformer.h.0.ln_1.bias"),
    }
    for label, (weights, tensor) in bad_sets.items():
        if label == "missing":  # through the command line: exit status 2, clear message
            paths = save_case("bad_" + label, cfg, weights, inp)
            p = run_ref(paths, "forward", "bad_" + label, expect_ok=False)
            assert p.returncode == 2, (label, p.returncode, p.stderr)
            assert tensor in p.stderr and "Traceback" not in p.stderr, (label, p.stderr)
            assert not os.path.exists(os.path.join(TMP, "bad_%s.safetensors" % label)), label
        else:  # same code path, in-process
            model = ref.build_model(ref.parse_config(cfg))
            try:
                ref.load_weights(model, weights)
            except ref.SpecError as e:
                assert tensor in str(e), (label, str(e))
            else:
                raise AssertionError("%s weight was accepted" % label)


@check("bad config / inputs raise SpecError")
def _():
    bad = [dict(VIT_CFG, attention=["softmax"]), dict(VIT_CFG, attention=["softmax", "twice"]),
           {k: v for k, v in GPT_PRE.items() if k != "norm"}, dict(GPT_PRE, dim=18)]
    for c in bad:
        try:
            ref.parse_config(c)
        except ref.SpecError:
            pass
        else:
            raise AssertionError("accepted bad config %r" % c)
    c = ref.parse_config(GPT_PRE)
    for inputs in ({"tokens": np.zeros((2, 13), np.int64)}, {"tokens": np.full((1, 3), 17)},
                   {"labels": np.zeros((1, 3), np.int64)}):
        try:
            ref.prepare_inputs(c, inputs)
        except ref.SpecError:
            pass
        else:
            raise AssertionError("accepted bad inputs")
    v = ref.parse_config(VIT_CFG)
    for inputs in ({"pixels": np.zeros((1, 1, 8, 8))}, {"pixels": np.zeros((1, 2, 8, 8), np.int64)},
                   {"pixels": np.zeros((2, 2, 8, 8)), "labels": np.zeros((2, 1), np.int64)},
                   {"pixels": np.zeros((2, 2, 8, 8)), "labels": np.array([0, 5])}):
        try:
            ref.prepare_inputs(v, inputs, need_labels=True)
        except ref.SpecError:
            pass
        else:
            raise AssertionError("accepted bad vit inputs %r" % list(inputs))
    try:
        ref.prepare_inputs(c, {"tokens": np.zeros((1, 3), np.int64), "mask": np.ones((1, 3))})
    except ref.SpecError as e:
        assert "'mask'" in str(e), str(e)
    else:
        raise AssertionError("accepted an input the reference does not use")
    try:
        ref.prepare_inputs(c, {"tokens": np.zeros((1, 3), np.int64)}, need_labels=True)
    except ref.SpecError as e:
        assert "labels" in str(e)
    else:
        raise AssertionError("accepted missing labels")


def main():
    t0 = time.time()
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    for t in TESTS:
        t()
    passed = sum(ok for _, ok in RESULTS)
    failed = len(RESULTS) - passed
    print("(%.1fs, scratch dir %s)" % (time.time() - t0, TMP if failed else "removed"))
    if not failed:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.stderr.flush()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
