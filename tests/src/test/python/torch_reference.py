#!/usr/bin/env python3
"""Independent PyTorch reference for the twicing parity tests.

Models (parameter names follow timm DeiT / nanoGPT so that weights move unchanged):
  * VisionTransformer  -- {"kind": "vit", ...}
  * GPT                -- {"kind": "gpt", ...}  (tied LM head: logits = x @ wte.weight.T)
Each attention layer is "softmax" (out = A v) or "twicing" (out = A (2v - A v) = (2A - A^2) v;
A^2 is never formed).

Dropout: the reference draws no random masks. A config with "dropout" > 0 runs in --mode forward (eval,
no dropout, as the exported inference graph) and in --mode grads only with --dropout-masks, a safetensors
file of the 0/1 masks "dropout.0", "dropout.1", ... in the order the model applies them (GPT: after the
embedding, then per layer the attention matrix, the attention output projection, the MLP output; ViT: after
pos_embed, then the same three per layer); each site computes x * mask / (1 - dropout). Anything else
with dropout > 0 is refused (exit status 2), as is any config key or input tensor the reference
does not implement.

Usage (run with Debian's /usr/bin/python3, which has torch 1.13):
  torch_reference.py --config CFG.json --weights W.safetensors --inputs IN.safetensors
                     --mode forward|grads|adamw --out OUT.safetensors
                     [--dtype float64|float32] [--steps 3] [--lr 1e-3] [--weight-decay 0.05]
                     [--beta1 0.9] [--beta2 0.999] [--eps 1e-8] [--label-smoothing 0.0]
                     [--ignore-index -100] [--optimizer adamw|sgd] [--momentum 0.9]
                     [--clip-norm 0 (0: off)] [--dropout-masks MASKS.safetensors]

Outputs (all F64):
  forward : logits
  grads   : loss (scalar), <param>.grad for every parameter, pixels.grad (ViT only)
  adamw   : loss.1 .. loss.<steps> (each computed before that step's update), every parameter
            after the last step under its own name, and <param>.exp_avg + <param>.exp_avg_sq
            (--optimizer adamw) or <param>.momentum (--optimizer sgd). With --clip-norm > 0 each step
            clips the gradients with torch.nn.utils.clip_grad_norm_ before the update and also writes
            grad_norm.<k>, the total norm before clipping.
Exit status: 0 on success; 2 with a one-line "error: ..." message on stderr for bad configs,
weights or inputs (naming the offending tensor/key).
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ATTENTION_KINDS = ("softmax", "twicing")
DTYPES = {"float64": torch.float64, "float32": torch.float32}


class SpecError(Exception):
    """Bad config, weights or inputs: reported as one clear message, exit status 2."""


# ============================================================================ attention core

def attend(attn, v, kind):
    """Apply row-stochastic attention `attn` [.., N, N] to values `v` [.., N, dh].

    softmax: A v.   twicing: A (2v - A v), which equals (2A - A@A) v without forming A@A.
    """
    if kind == "softmax":
        return attn @ v
    if kind == "twicing":
        av = attn @ v
        return attn @ (2 * v - av)
    raise ValueError("unknown attention kind %r" % (kind,))


# ============================================================================ dropout with given masks
# Every module takes `drop`, a factory of its dropout modules (nn.Identity: none).

class FixedMasks:
    """The masks "dropout.0", "dropout.1", ... handed out in the order the forward pass asks for them."""

    def __init__(self, tensors, dtype):
        self.masks = []
        for k in range(len(tensors)):
            name = "dropout.%d" % k
            if name not in tensors:
                raise SpecError("dropout masks: missing %r (masks must be dropout.0 .. dropout.%d)"
                                % (name, len(tensors) - 1))
            a = tensors[name]
            if not np.all((a == 0) | (a == 1)):
                raise SpecError("dropout mask %r has values other than 0 and 1" % name)
            self.masks.append((name, torch.from_numpy(np.ascontiguousarray(a)).to(dtype)))
        self.used = 0

    def next(self, shape):
        if self.used >= len(self.masks):
            raise SpecError("dropout masks: the model applies more than the %d masks given"
                            % len(self.masks))
        name, m = self.masks[self.used]
        if tuple(m.shape) != tuple(shape):
            raise SpecError("dropout mask %r has shape %s, the site it is applied at has %s"
                            % (name, list(m.shape), list(shape)))
        self.used += 1
        return m

    def check_all_used(self):
        if self.used != len(self.masks):
            raise SpecError("dropout masks: %d given but the model applies %d"
                            % (len(self.masks), self.used))


class Dropout(nn.Module):
    """x * mask / (1 - p) with the next given mask; the identity without masks (eval, or p = 0)."""

    def __init__(self, p, source):
        super().__init__()
        self.p = p
        self.source = source  # a FixedMasks, or None

    def forward(self, x):
        if self.source is None or self.p == 0:
            return x
        return x * self.source.next(x.shape) / (1 - self.p)


# ============================================================================ ViT (timm DeiT)

class PatchEmbed(nn.Module):
    def __init__(self, image_size, patch, channels, dim):
        super().__init__()
        self.num_patches = (image_size // patch) ** 2
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, D]


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias, kind, drop=nn.Identity):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.kind = kind
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = drop()
        self.proj_drop = drop()

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # [B, H, N, dh]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = attend(attn, v, self.kind)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, drop=nn.Identity):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = drop()

    def forward(self, x):
        return self.drop(self.fc2(self.act(self.fc1(x))))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_hidden, qkv_bias, ln_eps, kind, drop=nn.Identity):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=ln_eps)
        self.attn = Attention(dim, num_heads, qkv_bias, kind, drop)
        self.norm2 = nn.LayerNorm(dim, eps=ln_eps)
        self.mlp = Mlp(dim, mlp_hidden, drop)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class VisionTransformer(nn.Module):
    def __init__(self, cfg, drop=nn.Identity):
        super().__init__()
        D = cfg["dim"]
        self.patch_embed = PatchEmbed(cfg["image_size"], cfg["patch"], cfg["channels"], D)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, D))
        self.pos_drop = drop()
        self.blocks = nn.ModuleList([
            Block(D, cfg["heads"], cfg["mlp"], cfg["qkv_bias"], cfg["ln_eps"], kind, drop)
            for kind in cfg["attention"]])
        self.norm = nn.LayerNorm(D, eps=cfg["ln_eps"])
        self.head = nn.Linear(D, cfg["classes"])

    def forward(self, pixels):
        x = self.patch_embed(pixels)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self.pos_drop(x + self.pos_embed)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0])  # CLS pooling -> [B, classes]


# ============================================================================ GPT (nanoGPT)

def sinusoidal_positions(T, D, dtype):
    """[T, D] = cat(sin(s), cos(s)) with s = t / 10000^(2i/D); computed in float64, then cast."""
    inv_freq = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    s = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return torch.cat([torch.sin(s), torch.cos(s)], dim=-1).to(dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, num_heads, attn_bias, kind, drop=nn.Identity):
        super().__init__()
        self.n_head = num_heads
        self.n_embd = dim
        self.head_dim = dim // num_heads
        self.kind = kind
        self.c_attn = nn.Linear(dim, 3 * dim, bias=attn_bias)
        self.c_proj = nn.Linear(dim, dim, bias=attn_bias)
        self.attn_dropout = drop()
        self.resid_dropout = drop()

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # [B, H, T, dh]
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (self.head_dim ** -0.5)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
        att = att.masked_fill(future, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = attend(att, v, self.kind)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, dim, hidden, bias, activation, drop=nn.Identity):
        super().__init__()
        self.c_fc = nn.Linear(dim, hidden, bias=bias)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.c_proj = nn.Linear(hidden, dim, bias=bias)
        self.dropout = drop()

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPTBlock(nn.Module):
    def __init__(self, cfg, kind, drop=nn.Identity):
        super().__init__()
        D = cfg["dim"]
        self.norm = cfg["norm"]
        self.ln_1 = nn.LayerNorm(D, eps=cfg["ln_eps"])
        self.attn = CausalSelfAttention(D, cfg["heads"], cfg["attn_bias"], kind, drop)
        self.ln_2 = nn.LayerNorm(D, eps=cfg["ln_eps"])
        self.mlp = MLP(D, cfg["mlp"], cfg["bias"], cfg["activation"], drop)

    def forward(self, x):
        if self.norm == "pre":
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlp(self.ln_2(x))
        else:  # post-LN
            x = self.ln_1(x + self.attn(x))
            x = self.ln_2(x + self.mlp(x))
        return x


class GPT(nn.Module):
    def __init__(self, cfg, drop=nn.Identity):
        super().__init__()
        self.cfg = cfg
        D = cfg["dim"]
        modules = dict(
            wte=nn.Embedding(cfg["vocab"], D),
            drop=drop(),
            h=nn.ModuleList([GPTBlock(cfg, kind, drop) for kind in cfg["attention"]]),
        )
        if cfg["positions"] == "learned":
            modules["wpe"] = nn.Embedding(cfg["context"], D)
        if cfg["norm"] == "pre":
            modules["ln_f"] = nn.LayerNorm(D, eps=cfg["ln_eps"])
        self.transformer = nn.ModuleDict(modules)

    def forward(self, tokens):
        B, T = tokens.shape
        wte = self.transformer["wte"]
        x = wte(tokens)
        if self.cfg["embed_scale"]:
            x = x * math.sqrt(self.cfg["dim"])
        if self.cfg["positions"] == "learned":
            x = x + self.transformer["wpe"].weight[:T]
        else:
            x = x + sinusoidal_positions(T, self.cfg["dim"], x.dtype)
        x = self.transformer["drop"](x)
        for block in self.transformer["h"]:
            x = block(x)
        if "ln_f" in self.transformer:
            x = self.transformer["ln_f"](x)
        return F.linear(x, wte.weight)  # tied head -> [B, T, vocab]


# ============================================================================ config

_VIT_SPEC = {"kind": str, "image_size": int, "channels": int, "patch": int, "classes": int,
             "dim": int, "depth": int, "heads": int, "mlp": int, "ln_eps": float,
             "qkv_bias": bool, "attention": list}
_GPT_SPEC = {"kind": str, "vocab": int, "context": int, "dim": int, "depth": int, "heads": int,
             "mlp": int, "ln_eps": float, "norm": str, "activation": str, "positions": str,
             "bias": bool, "attn_bias": bool, "embed_scale": bool, "attention": list}
DESCRIPTIVE_KEYS = {"name"}  # config keys that do not affect the computation
_CHOICES = {"norm": ("pre", "post"), "activation": ("gelu", "relu"),
            "positions": ("learned", "sinusoidal")}


def parse_config(raw):
    """Validate a config dict and return a normalised copy. Raises SpecError."""
    if not isinstance(raw, dict):
        raise SpecError("config must be a JSON object")
    kind = raw.get("kind")
    if kind not in ("vit", "gpt"):
        raise SpecError("config: 'kind' must be \"vit\" or \"gpt\", got %r" % (kind,))
    spec = _VIT_SPEC if kind == "vit" else _GPT_SPEC
    cfg = {}
    for key, typ in spec.items():
        if key not in raw:
            raise SpecError("config: missing key %r (kind %s)" % (key, kind))
        val = raw[key]
        if typ is int:
            if isinstance(val, float) and val.is_integer():
                val = int(val)
            if isinstance(val, bool) or not isinstance(val, int) or val <= 0:
                raise SpecError("config: %r must be a positive integer, got %r" % (key, val))
        elif typ is float:
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not val > 0:
                raise SpecError("config: %r must be a positive number, got %r" % (key, val))
            val = float(val)
        elif typ is bool:
            if not isinstance(val, bool):
                raise SpecError("config: %r must be true or false, got %r" % (key, val))
        elif typ is str:
            if key in _CHOICES and val not in _CHOICES[key]:
                raise SpecError("config: %r must be one of %s, got %r" % (key, _CHOICES[key], val))
        elif key == "attention":
            if isinstance(val, str):  # shorthand: same kind in every layer
                val = [val] * (raw.get("depth") if isinstance(raw.get("depth"), int) else 0)
            if not isinstance(val, list):
                raise SpecError("config: 'attention' must be a list")
        cfg[key] = val
    dropout = raw.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise SpecError("config: 'dropout' must be a number in [0, 1), got %r" % (dropout,))
    cfg["dropout"] = float(dropout)
    # Only keys that change nothing about the computation may be passed without being implemented.
    for key in sorted(set(raw) - set(spec) - {"dropout"} - DESCRIPTIVE_KEYS):
        raise SpecError("config: key %r is not implemented by the reference (known: %s)"
                        % (key, ", ".join(sorted(set(spec) | {"dropout"} | DESCRIPTIVE_KEYS))))
    if len(cfg["attention"]) != cfg["depth"]:
        raise SpecError("config: 'attention' has %d entries but depth is %d"
                        % (len(cfg["attention"]), cfg["depth"]))
    for i, a in enumerate(cfg["attention"]):
        if a not in ATTENTION_KINDS:
            raise SpecError("config: attention[%d] = %r is not one of %s" % (i, a, ATTENTION_KINDS))
    if cfg["dim"] % cfg["heads"]:
        raise SpecError("config: dim %d is not divisible by heads %d" % (cfg["dim"], cfg["heads"]))
    if kind == "vit" and cfg["image_size"] % cfg["patch"]:
        raise SpecError("config: image_size %d is not divisible by patch %d"
                        % (cfg["image_size"], cfg["patch"]))
    if kind == "gpt" and cfg["positions"] == "sinusoidal" and cfg["dim"] % 2:
        raise SpecError("config: sinusoidal positions need an even dim, got %d" % cfg["dim"])
    return cfg


def build_model(cfg, dtype=torch.float64, masks=None):
    """The model in `dtype`; its dropout sites apply `masks` (a FixedMasks) or nothing when it is None."""
    def drop():
        return Dropout(cfg.get("dropout", 0.0), masks)
    model = VisionTransformer(cfg, drop) if cfg["kind"] == "vit" else GPT(cfg, drop)
    return model.to(dtype)


# ============================================================================ weights & inputs

def load_weights(model, tensors, dtype=torch.float64):
    """Copy numpy arrays into the model's parameters; strict on names, shapes and dtypes."""
    expected = {n: tuple(p.shape) for n, p in model.named_parameters()}
    problems = []
    for n in sorted(set(expected) - set(tensors)):
        problems.append("missing weight %r (expected shape %s)" % (n, list(expected[n])))
    for n in sorted(set(tensors) - set(expected)):
        problems.append("unexpected weight %r (shape %s)" % (n, list(tensors[n].shape)))
    for n in sorted(set(expected) & set(tensors)):
        a = tensors[n]
        if tuple(a.shape) != expected[n]:
            problems.append("weight %r has shape %s, expected %s"
                            % (n, list(a.shape), list(expected[n])))
        elif a.dtype.kind != "f":
            problems.append("weight %r has non-float dtype %s" % (n, a.dtype))
    if problems:
        shown = problems[:12]
        if len(problems) > 12:
            shown.append("... and %d more problems" % (len(problems) - 12))
        raise SpecError("weights do not match the config (%d problems): %s"
                        % (len(problems), "; ".join(shown)))
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(tensors[n])).to(dtype))


def _int_tensor(name, a):
    if a.dtype.kind not in "iu":
        raise SpecError("input %r must be an integer tensor (I64), got %s" % (name, a.dtype))
    return torch.from_numpy(a.astype(np.int64))


def prepare_inputs(cfg, tensors, dtype=torch.float64, need_labels=False, ignore_index=-100):
    """Return (model_input, labels or None); validates names, shapes, dtypes and ranges."""
    data_name = "pixels" if cfg["kind"] == "vit" else "tokens"
    allowed = {data_name, "labels"}
    for n in sorted(set(tensors) - allowed):
        raise SpecError("inputs: unexpected %r (a %s model takes %s)"
                        % (n, cfg["kind"], " and ".join(repr(a) for a in sorted(allowed))))
    if data_name not in tensors:
        raise SpecError("inputs: missing %r (a %s model needs it)" % (data_name, cfg["kind"]))
    a = tensors[data_name]
    if cfg["kind"] == "vit":
        want = [cfg["channels"], cfg["image_size"], cfg["image_size"]]
        if a.ndim != 4 or list(a.shape[1:]) != want or a.shape[0] == 0:
            raise SpecError("input 'pixels' has shape %s, expected [B, %d, %d, %d]"
                            % (list(a.shape), *want))
        if a.dtype.kind != "f":
            raise SpecError("input 'pixels' must be a float tensor, got %s" % a.dtype)
        x = torch.from_numpy(np.ascontiguousarray(a)).to(dtype)
        label_shape = [a.shape[0]]
        n_classes = cfg["classes"]
    else:
        if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise SpecError("input 'tokens' has shape %s, expected [B, T]" % list(a.shape))
        if a.shape[1] > cfg["context"]:
            raise SpecError("input 'tokens' has T = %d > context %d" % (a.shape[1], cfg["context"]))
        x = _int_tensor("tokens", a)
        if x.numel() and (x.min() < 0 or x.max() >= cfg["vocab"]):
            raise SpecError("input 'tokens' has ids outside [0, %d)" % cfg["vocab"])
        label_shape = list(a.shape)
        n_classes = cfg["vocab"]
    labels = None
    if need_labels:
        if "labels" not in tensors:
            raise SpecError("inputs: missing 'labels' (needed by this mode)")
        lab = tensors["labels"]
        if list(lab.shape) != label_shape:
            raise SpecError("input 'labels' has shape %s, expected %s"
                            % (list(lab.shape), label_shape))
        labels = _int_tensor("labels", lab)
        bad = (labels != ignore_index) & ((labels < 0) | (labels >= n_classes))
        if bad.any():
            raise SpecError("input 'labels' has values outside [0, %d) that are not the "
                            "ignore index %d" % (n_classes, ignore_index))
    return x, labels


def loss_fn(logits, labels, label_smoothing=0.0, ignore_index=-100):
    """Cross-entropy: mean over the batch (ViT) or over all non-ignored tokens (LM)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=ignore_index, label_smoothing=label_smoothing)


def param_groups(model, weight_decay):
    """Decay parameters of rank >= 2 except cls_token / pos_embed; everything else gets 0."""
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.ndim >= 2 and n not in ("cls_token", "pos_embed") else no_decay).append((n, p))
    return decay, no_decay


# ============================================================================ modes

def _f64(t):
    return t.detach().to(torch.float64).cpu().numpy()


def run_mode(cfg, weights, inputs, mode, dtype=torch.float64, steps=3, lr=1e-3, weight_decay=0.05,
             beta1=0.9, beta2=0.999, eps=1e-8, label_smoothing=0.0, ignore_index=-100,
             optimizer="adamw", momentum=0.9, clip_norm=0.0, dropout_masks=None):
    """Run one mode in-process; returns (dict name -> float64 numpy array, metadata dict).

    dropout_masks: name -> 0/1 array ("dropout.0", ...), only for mode "grads" of a config with dropout > 0.
    """
    masks = None
    if dropout_masks is not None:
        if mode != "grads":
            raise SpecError("--dropout-masks is implemented for --mode grads only (one forward pass); "
                            "--mode %s would need new masks for every step" % mode)
        if cfg["dropout"] == 0:
            raise SpecError("--dropout-masks given but the config has dropout 0")
        masks = FixedMasks(dropout_masks, dtype)
    elif cfg["dropout"] > 0 and mode != "forward":
        raise SpecError("config: dropout %g in --mode %s is not implemented: the reference draws no random "
                        "masks (give the masks with --dropout-masks in --mode grads)" % (cfg["dropout"], mode))
    if clip_norm < 0:
        raise SpecError("--clip-norm must be >= 0 (0: no clipping), got %g" % clip_norm)
    if clip_norm > 0 and mode != "adamw":
        raise SpecError("--clip-norm applies to --mode adamw only, not %s" % mode)
    model = build_model(cfg, dtype, masks)
    load_weights(model, weights, dtype)
    # Forward mode is the inference graph: no dropout (eval). Dropout only ever uses the given masks.
    model.eval()
    x, labels = prepare_inputs(cfg, inputs, dtype, need_labels=(mode != "forward"),
                               ignore_index=ignore_index)
    out = {}
    meta = {"mode": mode, "dtype": str(dtype).replace("torch.", ""), "kind": cfg["kind"],
            "torch": torch.__version__}
    if mode == "forward":
        with torch.no_grad():
            out["logits"] = _f64(model(x))
    elif mode == "grads":
        if cfg["kind"] == "vit":
            x.requires_grad_(True)
        loss = loss_fn(model(x), labels, label_smoothing, ignore_index)
        if masks is not None:
            masks.check_all_used()
        loss.backward()
        out["loss"] = _f64(loss)
        for n, p in model.named_parameters():
            out[n + ".grad"] = _f64(p.grad) if p.grad is not None else np.zeros(p.shape)
        if cfg["kind"] == "vit":
            out["pixels.grad"] = _f64(x.grad)
    elif mode == "adamw":
        if steps < 1:
            raise SpecError("--steps must be >= 1, got %d" % steps)
        decay, no_decay = param_groups(model, weight_decay)
        groups = [{"params": [p for _, p in decay], "weight_decay": weight_decay},
                  {"params": [p for _, p in no_decay], "weight_decay": 0.0}]
        meta["decay_params"] = ",".join(n for n, _ in decay)
        meta["no_decay_params"] = ",".join(n for n, _ in no_decay)
        if optimizer == "adamw":
            opt = torch.optim.AdamW(groups, lr=lr, betas=(beta1, beta2), eps=eps,
                                    weight_decay=weight_decay)
        elif optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
        else:
            raise SpecError("unknown --optimizer %r" % optimizer)
        meta["optimizer"] = optimizer
        meta["clip_norm"] = repr(clip_norm)
        for k in range(1, steps + 1):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), labels, label_smoothing, ignore_index)
            out["loss.%d" % k] = _f64(loss)
            loss.backward()
            if clip_norm > 0:
                total = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
                out["grad_norm.%d" % k] = _f64(total)
            opt.step()
        for n, p in model.named_parameters():
            out[n] = _f64(p)
            state = opt.state[p]
            if optimizer == "adamw":
                out[n + ".exp_avg"] = _f64(state["exp_avg"])
                out[n + ".exp_avg_sq"] = _f64(state["exp_avg_sq"])
            else:
                buf = state.get("momentum_buffer")  # None when momentum == 0
                out[n + ".momentum"] = _f64(buf) if buf is not None else np.zeros(p.shape)
    else:
        raise SpecError("unknown --mode %r" % mode)
    return out, meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--mode", required=True, choices=["forward", "grads", "adamw"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="float64", choices=sorted(DTYPES))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--ignore-index", type=int, default=-100)
    ap.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd"])
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--clip-norm", type=float, default=0.0)
    ap.add_argument("--dropout-masks", default=None)
    args = ap.parse_args(argv)
    try:
        try:
            with open(args.config, "r", encoding="utf-8") as f:
                raw = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise SpecError("cannot read config %s: %s" % (args.config, e))
        cfg = parse_config(raw)
        try:
            weights = safetensors_io.load(args.weights)
            inputs = safetensors_io.load(args.inputs)
            masks = safetensors_io.load(args.dropout_masks) if args.dropout_masks else None
        except (OSError, safetensors_io.SafetensorsError) as e:
            raise SpecError(str(e))
        torch.manual_seed(0)  # nothing random is used (dropout masks are given); set for good measure
        out, meta = run_mode(cfg, weights, inputs, args.mode, DTYPES[args.dtype], args.steps,
                             args.lr, args.weight_decay, args.beta1, args.beta2, args.eps,
                             args.label_smoothing, args.ignore_index, args.optimizer,
                             args.momentum, args.clip_norm, masks)
    except SpecError as e:
        print("torch_reference: error: %s" % e, file=sys.stderr)
        return 2
    safetensors_io.write(args.out, out, meta)
    print("torch_reference: wrote %d tensors to %s" % (len(out), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
