"""Exports small PyTorch models with torch.onnx.export and writes float64 PyTorch references for the importer.

Usage: /usr/bin/python3 onnx_export.py --out DIR [--opsets 13,15,17]

For each model and opset it writes DIR/<model>_op<k>.onnx and DIR/<model>_op<k>.safetensors holding, all float64:
    x (the input; int64 tokens for the LM), labels (int64), logits, loss (softmax cross-entropy, mean),
    grad.<initializer> for every float initializer of the exported file, by the file's own initializer names
        (torch may fold a parameter into a transposed copy named onnx::MatMul_N; its gradient is transposed too),
    next.<initializer> the value after one torch.optim.AdamW step (lr 1e-2, weight decay 0.05 on initializers of
        rank >= 2 except cls_token/pos_embed, betas 0.9/0.999, eps 1e-8) on the same batch.
The models: 'patch' (a ViT stem as timm writes it: flatten(2) of the patch grid, cls_token.expand(B, -1, -1),
pos_embed; its shapes are run-time computations on the batch size), 'cnn' (Conv with padding and stride, inference-mode BatchNormalization whose running statistics are
not parameters, MaxPool, global average pooling; input [batch, 1, 8, 8], 3 classes), 'mlp' (Flatten, Linear, GELU, Linear, LayerNorm, ReLU, Linear; input [batch, 1, 4, 4], 5 classes),
'lm' (token + position embedding, a pre-LN causal attention block with a GELU MLP, head; tokens [batch, 8],
vocabulary 11) and 'fmnist' (Flatten, Linear 784->32, ReLU, Linear 32->10; for training on Fashion-MNIST) and 'bytelm' (the 'lm' layout with
256 byte ids and 16 positions, for training on text).
Everything is seeded, so the files are the same on every run.
"""

import argparse
import math
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 12)
        self.fc2 = nn.Linear(12, 12)
        self.norm = nn.LayerNorm(12)
        self.head = nn.Linear(12, 5)

    def forward(self, x):
        h = F.gelu(self.fc1(torch.flatten(x, 1)))
        h = F.relu(self.norm(self.fc2(h)))
        return self.head(h)


class Block(nn.Module):
    def __init__(self, dim, heads, context):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        # True above the diagonal: the future positions each query must not see.
        self.register_buffer("mask", torch.triu(torch.ones(context, context, dtype=torch.bool), diagonal=1))

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)) * self.scale
        att = att.masked_fill(self.mask[:t, :t], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Lm(nn.Module):
    def __init__(self, vocab=11, dim=8, heads=2, context=8):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.pos_embed = nn.Parameter(torch.randn(1, context, dim) * 0.1)
        self.block = Block(dim, heads, context)
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens):
        return self.head(self.ln_f(self.block(self.wte(tokens) + self.pos_embed)))


class FmnistMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.relu(self.conv2(h))
        return self.head(F.adaptive_avg_pool2d(h, 1).flatten(1))


class PatchNet(nn.Module):
    """A ViT stem written as timm writes it: flatten(2) of the patch grid and cls_token.expand(B, -1, -1)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(1, 4, 2, stride=2)
        self.cls_token = nn.Parameter(torch.randn(1, 1, 4) * 0.1)
        self.pos_embed = nn.Parameter(torch.randn(1, 5, 4) * 0.1)
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        h = self.norm(x)
        return self.head(h[:, 0] + h[:, 1:].mean(dim=1))


def perturb(model):
    """Non-default LayerNorm scales and biases, so their gradients are not trivially symmetric."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm.weight", "ln1.weight", "ln2.weight", "ln_f.weight")):
                p.add_(0.3 * torch.randn(p.shape, generator=g))
            if name.endswith(("norm.bias", "ln1.bias", "ln2.bias", "ln_f.bias")):
                p.add_(0.2 * torch.randn(p.shape, generator=g))


def cases():
    torch.manual_seed(0)
    mlp = Mlp()
    perturb(mlp)
    x = torch.randn(3, 1, 4, 4)
    yield "mlp", mlp, x, torch.tensor([0, 4, 2]), "x", {0: "batch"}
    torch.manual_seed(1)
    lm = Lm()
    perturb(lm)
    tokens = torch.randint(0, 11, (2, 8))
    yield "lm", lm, tokens, torch.randint(0, 11, (2, 8)), "tokens", {0: "batch"}
    torch.manual_seed(5)
    yield "patch", PatchNet(), torch.randn(2, 1, 4, 4), torch.tensor([1, 2]), "pixels", {0: "batch"}
    torch.manual_seed(4)
    cnn = Cnn()
    with torch.no_grad():
        cnn.bn1.running_mean.uniform_(-0.5, 0.5)
        cnn.bn1.running_var.uniform_(0.5, 2.0)
        cnn.bn1.weight.uniform_(0.5, 1.5)
        cnn.bn1.bias.uniform_(-0.2, 0.2)
    yield "cnn", cnn, torch.randn(2, 1, 8, 8), torch.tensor([2, 0]), "x", {0: "batch"}
    torch.manual_seed(2)
    yield "fmnist", FmnistMlp(), torch.randn(2, 1, 28, 28), torch.tensor([1, 9]), "pixels", {0: "batch"}
    torch.manual_seed(3)
    yield "bytelm", Lm(vocab=256, dim=16, heads=2, context=16), torch.randint(0, 256, (2, 16)), \
        torch.randint(0, 256, (2, 16)), "tokens", {0: "batch"}


def match(init, params):
    """The torch parameter an exported initializer holds, and whether it holds it transposed."""
    for name, p in params.items():
        v = p.detach().numpy()
        if v.shape == init.shape and np.array_equal(v, init):
            return name, False
        if v.ndim == 2 and v.T.shape == init.shape and np.array_equal(v.T, init):
            return name, True
    return None, False


def reference(model, x, labels, exported):
    m64 = _copy64(model)
    inp = x if x.dtype == torch.long else x.double()
    logits = m64(inp)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
    params = dict(m64.named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()))
    grad_of = dict(zip(params.keys(), grads))
    decay = [p for n, p in params.items() if p.ndim >= 2 and n.split(".")[-1] not in ("cls_token", "pos_embed")]
    rest = [p for n, p in params.items() if not (p.ndim >= 2 and n.split(".")[-1] not in ("cls_token", "pos_embed"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    for n, p in params.items():
        p.grad = grad_of[n].clone()
    opt.step()
    out = {"x": x.numpy() if x.dtype == torch.long else x.double().numpy(), "labels": labels.numpy(),
           "logits": logits.detach().numpy(), "loss": loss.detach().numpy()}
    params32 = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    for init in exported.graph.initializer:
        value = onnx.numpy_helper.to_array(init)
        if value.dtype != np.float32 or init.name in buffers:
            continue  # running statistics and masks are not parameters
        name, transposed = match(value, params32)
        if name is None:
            raise SystemExit("initializer %s matches no parameter of %s" % (init.name, type(model).__name__))
        g = grad_of[name].detach().numpy()
        nxt = params[name].detach().numpy()
        out["grad." + init.name] = g.T if transposed else g
        out["next." + init.name] = nxt.T if transposed else nxt
    return out


def _copy64(model):
    import copy
    m = copy.deepcopy(model).double()
    for name, buf in model.named_buffers():
        if buf.dtype == torch.bool:
            dict(m.named_buffers())[name].data = buf.clone()
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--opsets", default="13,15,17")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    opsets = [int(o) for o in args.opsets.split(",")]
    for name, model, x, labels, input_name, dyn in cases():
        model.eval()
        for opset in opsets:
            path = os.path.join(args.out, "%s_op%d.onnx" % (name, opset))
            # For the CNN, PRESERVE without constant folding keeps eval-mode BatchNormalization as its own node
            # (EVAL would fuse it into the Conv's weights).
            keep_bn = name == "cnn"
            torch.onnx.export(model, (x,), path, input_names=[input_name], output_names=["logits"],
                              dynamic_axes={input_name: dyn, "logits": {0: "batch"}}, opset_version=opset,
                              training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL,
                              do_constant_folding=not keep_bn)
            exported = onnx.load(path)
            safetensors_io.write(os.path.join(args.out, "%s_op%d.safetensors" % (name, opset)),
                                 reference(model, x, labels, exported),
                                 metadata={"torch": torch.__version__, "opset": str(opset)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
