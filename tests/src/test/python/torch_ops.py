"""PyTorch reference for single spatial ops (Conv, BatchNormalization, MaxPool, AveragePool) and their gradients.

Usage: torch_ops.py CASES.json INPUTS.safetensors OUT.safetensors

CASES.json is a list of {"name", "op", "attrs", "wrt"}; INPUTS holds "<name>/<input>" tensors (x, w, b, scale,
bias, mean, var as the op needs, and r, the upstream gradient). For each case the script computes, in float64,
y = op(inputs) and the gradients of L = sum(y * r) with respect to the inputs listed in "wrt", and writes
"<name>/y" and "<name>/d_<input>". ONNX pads (begins..., ends...) are applied with F.pad first, so asymmetric pads
work (with -inf padding for max pooling, and count_include_pad handled by the divisor below).
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io


def onnx_pad(x, pads, value=0.0):
    n = len(pads) // 2
    spec = []
    for i in reversed(range(n)):
        spec += [pads[i], pads[i + n]]
    return F.pad(x, spec, value=value)


def conv(t, a):
    nd = t["x"].dim() - 2
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    x = onnx_pad(t["x"], a.get("pads", [0] * 2 * nd))
    return fn(x, t["w"], t.get("b"), stride=a.get("strides", [1] * nd), dilation=a.get("dilations", [1] * nd),
              groups=a.get("group", 1))


def batch_norm(t, a):
    # Only Y is compared: torch's running variance uses the unbiased estimate, ONNX's the biased one.
    eps = a.get("epsilon", 1e-5)
    if a.get("training_mode", 0):
        # torch updates the running statistics in place, so it gets copies.
        return F.batch_norm(t["x"], t["mean"].detach().clone(), t["var"].detach().clone(), t["scale"], t["bias"],
                            training=True, momentum=1 - a.get("momentum", 0.9), eps=eps)
    # Inference mode, written out: F.batch_norm does not differentiate the running statistics.
    shape = (1, -1) + (1,) * (t["x"].dim() - 2)
    c = lambda v: v.reshape(shape)
    return (t["x"] - c(t["mean"])) / torch.sqrt(c(t["var"]) + eps) * c(t["scale"]) + c(t["bias"])


def symmetric(a, nd):
    pads = a.get("pads", [0] * 2 * nd)
    if pads[:nd] != pads[nd:]:
        raise ValueError("ceil_mode cases need symmetric pads (torch pads natively then): %r" % (pads,))
    return pads[:nd]


def max_pool(t, a):
    nd = t["x"].dim() - 2
    fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
    if a.get("ceil_mode", 0):
        return fn(t["x"], a["kernel_shape"], stride=a.get("strides", [1] * nd), padding=symmetric(a, nd),
                  dilation=a.get("dilations", [1] * nd), ceil_mode=True)
    x = onnx_pad(t["x"], a.get("pads", [0] * 2 * nd), value=float("-inf"))
    return fn(x, a["kernel_shape"], stride=a.get("strides", [1] * nd), dilation=a.get("dilations", [1] * nd))


def average_pool(t, a):
    nd = t["x"].dim() - 2
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
    if a.get("ceil_mode", 0):
        return fn(t["x"], a["kernel_shape"], stride=a.get("strides", [1] * nd), padding=symmetric(a, nd),
                  ceil_mode=True, count_include_pad=bool(a.get("count_include_pad", 0)))
    pads = a.get("pads", [0] * 2 * nd)
    k = a["kernel_shape"]
    s = a.get("strides", [1] * nd)
    summed = fn(onnx_pad(t["x"], pads), k, stride=s) * float(np.prod(k))
    if a.get("count_include_pad", 0):
        return summed / float(np.prod(k))
    ones = torch.ones((1, 1) + tuple(t["x"].shape[2:]), dtype=t["x"].dtype)
    counts = fn(onnx_pad(ones, pads), k, stride=s) * float(np.prod(k))
    return summed / counts


OPS = {"Conv": conv, "BatchNormalization": batch_norm, "MaxPool": max_pool, "AveragePool": average_pool}


def main(argv):
    cases_path, inputs_path, out_path = argv
    with open(cases_path, "r", encoding="utf-8") as f:
        cases = json.load(f)
    data = safetensors_io.load(inputs_path)
    out = {}
    for case in cases:
        name = case["name"]
        prefix = name + "/"
        t = {k[len(prefix):]: torch.tensor(np.asarray(v, dtype=np.float64))
             for k, v in data.items() if k.startswith(prefix)}
        for k in case["wrt"]:
            t[k].requires_grad_(True)
        y = OPS[case["op"]](t, case["attrs"])
        (y * t["r"]).sum().backward()
        out[prefix + "y"] = y.detach().numpy()
        for k in case["wrt"]:
            out[prefix + "d_" + k] = t[k].grad.numpy()
    safetensors_io.write(out_path, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
