#!/usr/bin/env python3
"""Foreign models for the import tests: torch.onnx.export (opset 17, dynamic batch) plus PyTorch references.

Run with Debian's /usr/bin/python3 (torch 1.13, onnx 1.12). One call does one job directory:

  onnx_export_reference.py transformer DIR
      DIR/config.json        a torch_reference.py config ({"kind": "vit"|"gpt", ..., "attention": [...]});
                             its "attention" list is ignored: both variants are built
      DIR/weights.safetensors the model's weights (timm / nanoGPT names)
      DIR/inputs.safetensors  pixels|tokens and labels
      DIR/adamw.json          {"steps", "lr", "betas", "eps", "weight_decay"}
    writes, for KIND in softmax and twicing (every layer that kind; twicing is A @ (2V - A @ V)):
      DIR/KIND.onnx           the float32 model exported by torch.onnx.export
      DIR/KIND.ref.safetensors
          logits.f32, logits.f64            forward in float32 and float64
          loss.f32, loss.f64, <p>.grad.f32, <p>.grad.f64 (and pixels.grad.*) from torch.autograd
          adamw: loss.1.., <p> (after the last step), <p>.exp_avg, <p>.exp_avg_sq   (float64)

  onnx_export_reference.py forward DIR
      as transformer, without adamw.json: writes softmax.onnx and, for both variants, KIND.ref.safetensors with
      logits.f32 and logits.f64 only (for larger models, e.g. the presets themselves)

  onnx_export_reference.py cnn DIR
      DIR/inputs.safetensors  pixels [B, 1, 28, 28] and labels [B]; DIR/seed.txt (torch.manual_seed of the weights)
    writes DIR/cnn.onnx (exported in training mode, so BatchNormalization keeps batch statistics and is not
    folded into the convolution), DIR/cnn.weights.safetensors (initial parameters and buffers) and
    DIR/cnn.ref.safetensors (loss/grads in float32 and float64 as above, with the model in train() mode).

Every output tensor is float64 except where a name ends in .f32 (float32 values stored as F64).
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import torch_reference  # noqa: E402

OPSET = 17


class NanoGpt(torch_reference.GPT):
    """torch_reference's GPT with nanoGPT's own position lookup, wpe(arange(T)), as nanoGPT's model.py writes it
    (same values as the reference's wpe.weight[:T]; the export then holds Range + Gather, as nanoGPT's does)."""

    def forward(self, tokens):
        if self.cfg["positions"] != "learned" or self.cfg["embed_scale"]:
            return super().forward(tokens)
        B, T = tokens.shape
        pos = torch.arange(0, T, dtype=torch.long, device=tokens.device)
        x = self.transformer["wte"](tokens) + self.transformer["wpe"](pos)
        for block in self.transformer["h"]:
            x = block(x)
        if "ln_f" in self.transformer:
            x = self.transformer["ln_f"](x)
        return F.linear(x, self.transformer["wte"].weight)  # tied lm_head


def build(cfg, dtype):
    """The reference ViT (timm's layout and forward), or the GPT with nanoGPT's forward."""
    if cfg["kind"] == "gpt":
        return NanoGpt(cfg).to(dtype)
    return torch_reference.build_model(cfg, dtype)


def _np(t):
    return t.detach().to(torch.float64).cpu().numpy()


def export(model, example, input_name, path):
    """torch.onnx.export at opset 17 with a dynamic batch axis on the input and the logits."""
    torch.onnx.export(model, (example,), path, opset_version=OPSET, input_names=[input_name],
                      output_names=["logits"], dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False)


def grads(model, x, labels, dtype, tag, out, input_grad):
    """loss and every parameter gradient (and the input's) from torch.autograd, stored with suffix tag."""
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(input_grad)
    loss = torch_reference.loss_fn(model(x), labels)
    loss.backward()
    out["loss." + tag] = _np(loss)
    for n, p in model.named_parameters():
        out[n + ".grad." + tag] = _np(p.grad)
    if input_grad:
        out["pixels.grad." + tag] = _np(x.grad)


def adamw(model, x, labels, cfg, out):
    """cfg["steps"] AdamW steps with the presets' decay rule (rank >= 2, not cls_token/pos_embed)."""
    decay, no_decay = torch_reference.param_groups(model, cfg["weight_decay"])
    groups = [{"params": [p for _, p in decay], "weight_decay": cfg["weight_decay"]},
              {"params": [p for _, p in no_decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"],
                            weight_decay=cfg["weight_decay"])
    for k in range(1, cfg["steps"] + 1):
        opt.zero_grad(set_to_none=True)
        loss = torch_reference.loss_fn(model(x), labels)
        out["loss.%d" % k] = _np(loss)
        loss.backward()
        opt.step()
    for n, p in model.named_parameters():
        out[n] = _np(p)
        out[n + ".exp_avg"] = _np(opt.state[p]["exp_avg"])
        out[n + ".exp_avg_sq"] = _np(opt.state[p]["exp_avg_sq"])


def transformer(d, training=True):
    """Both variants: exports and references; with training=False only softmax.onnx and the logits of both."""
    with open(os.path.join(d, "config.json")) as f:
        raw = json.load(f)
    opt_cfg = None
    if training:
        with open(os.path.join(d, "adamw.json")) as f:
            opt_cfg = json.load(f)
    weights = safetensors_io.load(os.path.join(d, "weights.safetensors"))
    inputs = safetensors_io.load(os.path.join(d, "inputs.safetensors"))
    vision = raw["kind"] == "vit"
    for kind in ("softmax", "twicing"):
        raw["attention"] = [kind] * raw["depth"]
        cfg = torch_reference.parse_config(raw)
        out = {}
        models = {}
        for tag, dtype in (("f32", torch.float32), ("f64", torch.float64)):
            m = build(cfg, dtype)
            torch_reference.load_weights(m, weights, dtype)
            m.eval()
            x, labels = torch_reference.prepare_inputs(cfg, inputs, dtype, need_labels=True)
            with torch.no_grad():
                out["logits." + tag] = _np(m(x))
            if training:
                grads(m, x, labels, dtype, tag, out, vision)
            models[tag] = (m, x, labels)
        m32, x32, _ = models["f32"]
        if training or kind == "softmax":
            export(m32, x32, "pixels" if vision else "tokens", os.path.join(d, kind + ".onnx"))
        if not training:
            safetensors_io.write(os.path.join(d, kind + ".ref.safetensors"), out)
            continue
        m64, x64, l64 = models["f64"]
        torch_reference.load_weights(m64, weights, torch.float64)
        adamw(m64, x64, l64, opt_cfg, out)
        safetensors_io.write(os.path.join(d, kind + ".ref.safetensors"), out)


class SmallCnn(nn.Module):
    """Conv (padding 1) + BatchNorm + ReLU + MaxPool, Conv (stride 2, padding 1) + BatchNorm + ReLU + AvgPool,
    then Linear: [B, 1, 28, 28] -> [B, 10]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 3 * 3, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)       # [B, 8, 14, 14]
        x = F.avg_pool2d(F.relu(self.bn2(self.conv2(x))), 2)       # [B, 16, 7, 7] -> [B, 16, 3, 3]
        return self.fc(torch.flatten(x, 1))


def cnn(d):
    with open(os.path.join(d, "seed.txt")) as f:
        seed = int(f.read().strip())
    torch.manual_seed(seed)
    base = SmallCnn()
    with torch.no_grad():  # move BatchNorm's affine parameters off their 1/0 start, so misuse shows
        for bn in (base.bn1, base.bn2):
            bn.weight.add_(0.1 * torch.randn_like(bn.weight))
            bn.bias.add_(0.1 * torch.randn_like(bn.bias))
    state = {k: v.detach().clone() for k, v in base.state_dict().items()}
    safetensors_io.write(os.path.join(d, "cnn.weights.safetensors"),
                         {k: v.numpy() for k, v in state.items() if v.dtype.is_floating_point})
    inputs = safetensors_io.load(os.path.join(d, "inputs.safetensors"))
    out = {}
    for tag, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        m = SmallCnn().to(dtype)
        m.load_state_dict({k: (v.to(dtype) if v.dtype.is_floating_point else v) for k, v in state.items()})
        m.train()
        x = torch.from_numpy(np.ascontiguousarray(inputs["pixels"])).to(dtype)
        labels = torch.from_numpy(inputs["labels"].astype(np.int64))
        grads(m, x, labels, dtype, tag, out, True)
    m = SmallCnn()
    m.load_state_dict(state)
    m.train()
    x = torch.from_numpy(np.ascontiguousarray(inputs["pixels"])).float()
    torch.onnx.export(m, (x,), os.path.join(d, "cnn.onnx"), opset_version=OPSET, input_names=["pixels"],
                      output_names=["logits"], dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    safetensors_io.write(os.path.join(d, "cnn.ref.safetensors"), out)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    jobs = {"transformer": transformer, "forward": lambda d: transformer(d, training=False), "cnn": cnn}
    if len(argv) != 2 or argv[0] not in jobs:
        print("usage: onnx_export_reference.py transformer|forward|cnn DIR", file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    jobs[argv[0]](argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
