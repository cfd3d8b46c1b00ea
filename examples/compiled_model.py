"""KryBall and ``torch.compile``: the default backend is refused, ``backend="eager"`` trains.

    python examples/compiled_model.py [--steps N] [--backend inductor|aot_eager]

Every KryBall step takes Hessian-vector products, a backward pass through the gradient's own backward (double
backward). ``torch.compile``'s default backends (inductor, and aot_eager) build the backward with AOTAutograd,
which cannot be differentiated again, so KryBall refuses such a model at its first step, in one line, with the
parameters untouched. ``torch.compile(model, backend="eager")`` is Dynamo's graph capture without AOTAutograd: the
ordinary autograd graph, which KryBall can differentiate twice (and no speed-up). The last line says whether the
refusal was seen and what the eager-compiled training reached.
"""

import argparse

import torch
import torch.nn.functional as F

from kryball import KryBall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--backend", choices=("inductor", "aot_eager"), default="inductor",
                   help="the backend shown refused: torch.compile's default, or AOTAutograd without code generation")
    args = p.parse_args()
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread
    torch.manual_seed(0)
    x = torch.linspace(-2, 2, 512)[:, None]
    y = x.abs() * torch.sin(3 * x)
    model = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    opt = KryBall(model.parameters())

    compiled = torch.compile(model, backend=args.backend)  # inductor: torch.compile(model)
    before = [q.detach().clone() for q in model.parameters()]
    try:
        opt.step(lambda: F.mse_loss(compiled(x), y))
        refused = False
    except RuntimeError as error:
        refused = True
        print(f"backend={args.backend!r} refused: {error}")
    untouched = all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    print(f"parameters untouched by the refused step: {untouched}; steps counted: {opt.totals['steps']}")

    eager = torch.compile(model, backend="eager")
    first = F.mse_loss(model(x), y).item()
    for _ in range(args.steps):
        loss = opt.step(lambda: F.mse_loss(eager(x), y))
    print(f"final: backend={args.backend!r} {'refused' if refused else 'NOT refused'}; backend='eager' trained, loss "
          f"{first:.4f} -> {loss.item():.4f} in {args.steps} steps ({opt.totals['accepted']} accepted)")


if __name__ == "__main__":
    main()
