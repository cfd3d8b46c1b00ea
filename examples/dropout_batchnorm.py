"""KryBall on a model with Dropout and BatchNorm: ``model=`` and ``same_randomness``.

    python examples/dropout_batchnorm.py [--steps N]

KryBall evaluates the closure several times per step (at θ, at the trial point, on the curvature's sub-batch) and
accepts a step by ρ, the actual reduction of the loss over the reduction its model predicted. With
``same_randomness=True`` (the default) every evaluation of a step draws the dropout masks of the first, so ρ
compares one network at two points; with ``False`` each draws afresh and ρ also measures the noise between two
networks. ``model=`` lets BatchNorm's running statistics advance once per step (without it, a closure that runs
BatchNorm in training mode is refused). The same training, from the same start, is run both ways; the last line
gives the share of steps accepted by each.
"""

import argparse

import torch
import torch.nn.functional as F

from kryball import KryBall


def train(same_randomness: bool, steps: int) -> tuple[float, float, int]:
    """Accepted share, the loss in eval mode, and BatchNorm's count of batches after ``steps`` full-batch steps."""
    torch.manual_seed(0)
    x = torch.randn(1024, 20)
    y = (x[:, :5].sum(1) > 0).long() + (x[:, 5:10].sum(1) > 0).long()  # three classes
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.BatchNorm1d(64), torch.nn.ReLU(),
                                torch.nn.Dropout(0.1), torch.nn.Linear(64, 3))
    opt = KryBall(model.parameters(), model=model, same_randomness=same_randomness)
    model.train()
    for _ in range(steps):
        opt.step(lambda: F.cross_entropy(model(x), y))
    model.eval()  # dropout off, BatchNorm on its running statistics
    with torch.no_grad():
        loss = F.cross_entropy(model(x), y).item()
    return opt.totals["accepted"] / opt.totals["steps"], loss, int(model[1].num_batches_tracked)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args()
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread
    same, fresh = train(True, args.steps), train(False, args.steps)
    for name, (accepted, loss, batches) in (("same_randomness=True", same), ("same_randomness=False", fresh)):
        print(f"{name}: {accepted:.0%} of steps accepted, eval loss {loss:.4f}, BatchNorm counted {batches} batches "
              f"in {args.steps} steps")
    print(f"final: acceptance {same[0]:.2f} with same_randomness=True, {fresh[0]:.2f} with same_randomness=False "
          f"(eval loss {same[1]:.4f} against {fresh[1]:.4f})")


if __name__ == "__main__":
    main()
