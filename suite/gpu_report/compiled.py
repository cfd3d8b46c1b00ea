"""A ``torch.compile``'d model inside KryBall's closure: the GPU report's compile part.

    python -m suite.gpu_report.compiled --device cuda [--backends inductor eager] [--steps 3]

KryBall differentiates its gradient once more (Hessian-vector products by double backward, kryball/curvature.py),
which a compiled graph may or may not support; the library decides whether it takes one. This takes a few steps
of ``optim=kryball_plus`` on the suite's MNIST-1D MLP, compiled, on one synthetic batch, beside the same steps
of the model as it is, with each of ``--backends`` (inductor, the default; ``eager``, Dynamo's graph capture
alone), and prints one line of ``key=value`` facts for each that the report reads (``outcome=trains`` with the
losses and times, or ``outcome=refused`` with the error's first line), exit code 0 either way: what happens is
the measurement.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from suite.bench import synchronize
from suite.config import compose_config
from suite.experiment import build

INPUT_FEATURES, CLASSES = 40, 10  # MNIST-1D


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    p.add_argument("--backends", nargs="+", default=["inductor", "eager"],
                   help="torch.compile's backends, one try each (aot_eager: AOTAutograd without code generation)")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=512)
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is visible here")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    uncompiled = steps(args, backend=None)
    for backend in args.backends:
        try:
            fast = steps(args, backend)
        except Exception as error:  # noqa: BLE001 (whatever it raises is what the report quotes)
            first_line = (str(error).strip().splitlines() or [""])[0]
            print(f"outcome=refused backend={backend} error={type(error).__name__}: {first_line}", flush=True)
            continue
        difference = max(abs(a - b) for a, b in zip(fast["losses"], uncompiled["losses"]))
        print(f"outcome=trains backend={backend} steps={args.steps} first_step_s={fast['first_step_s']:.2f} "
              f"step_ms={fast['step_ms']:.2f} uncompiled_step_ms={uncompiled['step_ms']:.2f} "
              f"loss_first={fast['losses'][0]:.6g} loss_last={fast['losses'][-1]:.6g} "
              f"max_loss_difference={difference:.3g}", flush=True)
    return 0


def steps(args: argparse.Namespace, backend: str | None) -> dict:
    """The step losses of ``args.steps`` KryBall+ steps of the model, compiled with ``backend`` (``None``: as it is);
    the first step's seconds (compilation included) and the median of the others' milliseconds."""
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch_size, INPUT_FEATURES, generator=generator).to(device)
    y = torch.randint(0, CLASSES, (args.batch_size,), generator=generator).to(device)
    torch.manual_seed(0)
    model = build(compose_config(["task=mnist1d"]).model).to(device)
    network = model if backend is None else torch.compile(model, backend=backend)
    optimizer = build(compose_config(["task=mnist1d", "optim=kryball_plus"]).optim)(model.parameters())
    torch.manual_seed(1)  # the sub-batch sampler's seed: the same draws for both models

    def closure(indices=None):  # per-example losses, for curvature on a sub-batch (kryball/closure.py)
        xb, yb = (x, y) if indices is None else (x[indices], y[indices])
        return torch.nn.functional.cross_entropy(network(xb), yb, reduction="none")

    losses, times = [], []
    for _ in range(args.steps):
        synchronize(device)
        start = time.perf_counter()
        losses.append(optimizer.step(closure).item())
        synchronize(device)
        times.append(time.perf_counter() - start)
    rest = sorted(times[1:]) or times
    return dict(losses=losses, first_step_s=times[0], step_ms=1e3 * rest[len(rest) // 2])


if __name__ == "__main__":
    sys.exit(main())
