"""PyTorch peer for `twicing bench train|infer --torch`: the same architecture, batch and threads, timed in
eager mode and under torch.compile, driven line by line so that the Java side can alternate its own runs with
ours and cancel this machine's noise.

Usage: PYTHON bench_torch.py CONFIG_JSON BATCH THREADS TASK      (TASK: train or infer)

Protocol (one line each way):
  on start     -> "ready torch <version> variants <v1,v2,...>"  (eager always; compile unless it failed,
                   then also a line "note compile unavailable: <reason>")
  "run V N"    -> "times V <ms> <ms> ..."   N timed runs of variant V (eager or compile), after the first
                   call's warm-up; train: zero_grad, forward, loss, backward, AdamW step; infer: forward under
                   torch.inference_mode in eval mode.
  "quit"       -> exits 0.
Any failure: "error <message>" on stdout and exit status 2.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402

WARMUP = 3


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def make_data(cfg, batch):
    g = torch.Generator().manual_seed(1)
    if cfg["kind"] == "vit":
        x = torch.randn(batch, cfg["channels"], cfg["image_size"], cfg["image_size"], generator=g)
        y = torch.randint(0, cfg["classes"], (batch,), generator=g)
    else:
        x = torch.randint(0, cfg["vocab"], (batch, cfg["context"]), generator=g)
        y = torch.randint(0, cfg["vocab"], (batch, cfg["context"]), generator=g)
    return x, y


def train_step_fn(cfg, compiled):
    torch.manual_seed(0)
    model = ref.build_model(cfg, torch.float32)
    model.train()
    decay, no_decay = ref.param_groups(model, 0.05)
    # foreach AdamW is PyTorch's fastest eager optimizer on CPU; the compiled variant compiles the step too.
    opt = torch.optim.AdamW([{"params": [p for _, p in decay], "weight_decay": 0.05},
                             {"params": [p for _, p in no_decay], "weight_decay": 0.0}], lr=1e-3,
                            foreach=True)
    fwd = torch.compile(model) if compiled else model
    opt_step = torch.compile(opt.step) if compiled else opt.step

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = ref.loss_fn(fwd(x), y)
        loss.backward()
        opt_step()
        return loss
    return step


def infer_fn(cfg, compiled):
    torch.manual_seed(0)
    model = ref.build_model(cfg, torch.float32)
    model.eval()
    fwd = torch.compile(model) if compiled else model

    def run(x, _y):
        with torch.inference_mode():
            return fwd(x)
    return run


def main():
    cfg_json, batch, threads, task = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if task not in ("train", "infer"):
        say("error task must be train or infer, got %r" % task)
        sys.exit(2)
    torch.set_num_threads(threads)
    cfg = ref.parse_config(json.loads(cfg_json))
    x, y = make_data(cfg, batch)
    make = train_step_fn if task == "train" else infer_fn
    fns = {"eager": make(cfg, False)}
    try:
        fns["compile"] = make(cfg, True)
        for _ in range(WARMUP):  # compiles here, so that no timed run pays for it
            fns["compile"](x, y)
    except Exception as e:  # noqa: BLE001 -- any compile failure leaves the eager peer usable
        fns.pop("compile", None)
        say("note compile unavailable: %s" % str(e).splitlines()[0][:300])
    for _ in range(WARMUP):
        fns["eager"](x, y)
    say("ready torch %s variants %s" % (torch.__version__, ",".join(fns)))
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            return
        if parts[0] != "run" or len(parts) != 3 or parts[1] not in fns:
            say("error bad command %r (expected 'run %s N' or 'quit')" % (line.strip(), "|".join(fns)))
            sys.exit(2)
        fn, n = fns[parts[1]], int(parts[2])
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn(x, y)
            times.append((time.perf_counter() - t0) * 1000)
        say("times %s %s" % (parts[1], " ".join("%.3f" % t for t in times)))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        say("error %s: %s" % (type(e).__name__, e))
        sys.exit(2)
