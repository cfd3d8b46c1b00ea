"""§5.4 "How can we tell if our computed SFN step approximates the true SFN step?" — against M.

The thesis measures the reconstruction error ‖r‖ = ‖z* − ẑ‖ (eq. 5.5) between the exact
saddle-free Newton direction z* = −V|Λ|⁻¹Vᵀĝ (eq. 5.7) and a vector ẑ of the Krylov space
𝒦_M(H, ĝ) (eqs 5.6, 5.8), with the coefficients chosen to make it small (eqs 5.9–5.12), but
reports no numbers. Here ``kryball.analysis.reconstruction_errors`` gives, relative to ‖z*‖,
the best error any ẑ ∈ 𝒦_M reaches (the orthogonal projection: what eq. 5.12 solves for, computed
stably) and the error of the direction KryBall's SFN step takes, for M = 1…10 (the sweep range,
§5.2.5), with the run's eigenvalue clip ε (eqs 4.11–4.12) in both z* and KryBall's direction.

Measured at the start and at the checkpointed end of KryBall runs (``chapter5.RECONSTRUCTION``:
the XOR MLP and a narrowed MNIST-1D MLP), on the first mini-batch of epoch 1, with the dense
Hessian of that batch's loss in float64. Small models only: the dense Hessian takes one HVP per
parameter.
"""
from __future__ import annotations

import functools
import pathlib

import pandas as pd
import torch

from kryball.analysis import dense_hessian, reconstruction_errors
from suite.records import Records
from suite.reproduction.chapter5 import RECONSTRUCTION
from suite.reproduction.checkpointed import has_checkpoint, run_config, start_and_end
from suite.reproduction.columns import median_range

DIMS = range(1, 11)  # M over its sweep range (§5.2.5)
POINTS = ("start", "end")
ERRORS = {"best_error": "best in 𝒦_M", "kryball_error": "KryBall's direction"}
NOTES = [
    ("Relative reconstruction error ‖z* − ẑ‖/‖z*‖ (thesis eqs 5.5–5.12) of the exact saddle-free Newton "
     "direction z* of one mini-batch's dense Hessian (float64): `best in 𝒦_M` is the smallest error of any "
     "ẑ in the M-dimensional Krylov space (the projection of z* onto it), `KryBall's direction` the error "
     "of the saddle-free direction of KryBall's projected Hessian. Both use the run's eigenvalue clip ε."),
    ("`start`: at the run's initialisation; `end`: at its last checkpoint (convergence or the end of its "
     "budget). Cells: median [min–max] over the seeds; 1 is the error of the zero vector."),
]


def _errors(model: torch.nn.Module, loss, eig_clip: float) -> list[dict]:
    H, g = dense_hessian(loss, model.parameters())
    return reconstruction_errors(H, g, DIMS, eig_clip)


def run_errors(run_dir: pathlib.Path) -> pd.DataFrame:
    """One row per point (start, end) × M of one checkpointed run."""
    measure = functools.partial(_errors, eig_clip=run_config(run_dir).optim.eig_clip)
    measured = start_and_end(run_dir, measure, dtype=torch.float64)
    return pd.DataFrame([{"point": point, **row} for point in POINTS for row in measured[point]])


def errors(records: Records) -> pd.DataFrame:
    """The errors of every finished, checkpointed run of the reconstruction settings, one row per
    setting × seed × point × M (the report's CSV)."""
    frames = [run_errors(pathlib.Path(run["run_dir"])).assign(setting=setting.name, seed=run["seed"])
              for setting in RECONSTRUCTION
              for run in records.where(setting=setting.name).finished().sorted("seed").rows()
              if has_checkpoint(run["run_dir"])]
    columns = ["setting", "seed", "point", "krylov_dim", "basis_size", *ERRORS]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def table(errors: pd.DataFrame) -> pd.DataFrame:
    """The Markdown table: one row per setting × M, (point, error) across."""
    if errors.empty:
        return pd.DataFrame()
    cells = errors.groupby(["setting", "krylov_dim", "point"], sort=False)[list(ERRORS)].agg(median_range)
    table = cells.unstack("point").reorder_levels([1, 0], axis=1)[[(p, e) for p in POINTS for e in ERRORS]]
    table.columns = [f"{p}: {ERRORS[e]}" for p, e in table.columns]
    table = table.reset_index().rename(columns={"krylov_dim": "M"})
    return table.assign(setting=table["setting"].map({setting.name: setting.label for setting in RECONSTRUCTION}))
