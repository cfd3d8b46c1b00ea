"""KryBall+ in a plain PyTorch training loop: mini-batches, no learning rate, curvature on 128 examples.

    python examples/plain_loop.py [--epochs N] [--precision float32|float64|bf16-autocast]

The closure takes ``indices=None`` and returns one loss per example. KryBall minimises their mean, and with
``curvature_batch=128`` it calls ``closure(indices)`` once per step for a forward pass of 128 of the batch's
examples, on which that step's Hessian-vector products are taken. Two interleaved spirals, a small MLP; the last
line gives the loss and accuracy on all the data. ``--precision`` trains in float64, or in float32 with the
forward pass under bfloat16 autocast.
"""

import argparse
import math

import torch
import torch.nn.functional as F

from kryball import KryBall


def spirals(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spirals in the plane, ``n`` points, labels 0 and 1."""
    label = torch.randint(0, 2, (n,), generator=generator)
    t = torch.rand(n, generator=generator) * 3 * math.pi
    angle = t + math.pi * label
    x = torch.stack([torch.cos(angle), torch.sin(angle)], 1) * (t / (3 * math.pi))[:, None]
    return x + 0.02 * torch.randn(n, 2, generator=generator), label


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--precision", choices=("float32", "float64", "bf16-autocast"), default="float32")
    args = p.parse_args()
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread
    torch.manual_seed(0)
    dtype = torch.float64 if args.precision == "float64" else torch.float32
    x, y = spirals(2048, torch.Generator().manual_seed(0))
    x = x.to(dtype)
    model = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                torch.nn.Linear(64, 2)).to(dtype)
    opt = KryBall(model.parameters(), krylov_dim=3, curvature_batch=128, directions=("adam", "previous_step"),
                  curvature="auto")  # KryBall+ (the suite's conf/optim/kryball_plus.yaml)

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-autocast"):
            return model(inputs).float()

    for epoch in range(args.epochs):
        for batch in torch.randperm(len(x)).split(256):
            xb, yb = x[batch], y[batch]

            def closure(indices=None):  # every call of one step sees this batch; indices select some of it
                inputs, targets = (xb, yb) if indices is None else (xb[indices], yb[indices])
                return F.cross_entropy(forward(inputs), targets, reduction="none")

            loss = opt.step(closure)
        print(f"epoch {epoch + 1}: batch loss {loss.item():.4f}, radius {opt.last_step.radius:.3g}")

    with torch.no_grad():
        logits = forward(x)
        loss, accuracy = F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()
    print(f"final: loss {loss:.4f}, accuracy {accuracy:.3f}, {opt.totals['accepted']} of {opt.totals['steps']} "
          f"steps accepted ({args.precision})")


if __name__ == "__main__":
    main()
