"""PyTorch eager baseline for `twicing bench train --torch`: ms per training step (forward, backward, AdamW).

Usage: /usr/bin/python3 bench_torch.py CONFIG_JSON BATCH THREADS ITERS
Prints one line: `torch_ms_per_step <median ms> threads <n> torch <version>`.
"""
import json
import statistics
import sys
import time

import torch

import torch_reference as ref


def main():
    cfg = ref.parse_config(json.loads(sys.argv[1]))
    batch, threads, iters = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ref.build_model(cfg, torch.float32)
    decay, no_decay = ref.param_groups(model, 0.05)
    opt = torch.optim.AdamW([{"params": [p for _, p in decay], "weight_decay": 0.05},
                             {"params": [p for _, p in no_decay], "weight_decay": 0.0}], lr=1e-3)
    if cfg["kind"] == "vit":
        x = torch.randn(batch, cfg["channels"], cfg["image_size"], cfg["image_size"])
        y = torch.randint(0, cfg["classes"], (batch,))
    else:
        x = torch.randint(0, cfg["vocab"], (batch, cfg["context"]))
        y = torch.randint(0, cfg["vocab"], (batch, cfg["context"]))
    times = []
    for i in range(iters + 3):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = ref.loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    print("torch_ms_per_step %.3f threads %d torch %s" % (statistics.median(times), threads, torch.__version__))


if __name__ == "__main__":
    main()
