"""KryBall as DeepXDE's optimiser: the 1-D Poisson equation -u'' = π² sin(πx) on [-1, 1], u(±1) = 0.

    python examples/deepxde_poisson.py [--steps N]

DeepXDE (PyTorch backend) accepts an optimiser instance in ``model.compile``; its closure sums the losses of the
PDE residual and the boundary condition, calls ``backward`` and returns the sum, which KryBall takes as the loss.
The residual differentiates the network with respect to its input (``dde.grad.hessian``), so KryBall evaluates
its trial points with gradient tracking. The last line gives the relative L2 error against the exact solution
sin(πx) on 1000 points.
"""

import argparse
import os

os.environ.setdefault("DDE_BACKEND", "pytorch")  # before deepxde is imported: it reads the backend then

import deepxde as dde  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from kryball import KryBall  # noqa: E402


def pde(x, u):
    return -dde.grad.hessian(u, x) - np.pi**2 * torch.sin(np.pi * x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread
    dde.config.set_random_seed(0)
    geometry = dde.geometry.Interval(-1, 1)
    boundary = dde.icbc.DirichletBC(geometry, lambda x: 0, lambda x, on_boundary: on_boundary)
    data = dde.data.PDE(geometry, pde, boundary, num_domain=32, num_boundary=2)
    net = dde.nn.FNN([1, 32, 32, 1], "tanh", "Glorot uniform")
    model = dde.Model(data, net)
    opt = KryBall(net.parameters(), directions=("adam", "previous_step"))  # no learning rate to give DeepXDE
    model.compile(opt)
    model.train(iterations=args.steps, display_every=max(1, args.steps // 5))

    x = np.linspace(-1, 1, 1000)[:, None]
    exact = np.sin(np.pi * x)
    error = np.linalg.norm(model.predict(x) - exact) / np.linalg.norm(exact)
    print(f"final: relative L2 error {error:.2e} after {opt.totals['steps']} KryBall steps "
          f"({opt.totals['accepted']} accepted)")


if __name__ == "__main__":
    main()
