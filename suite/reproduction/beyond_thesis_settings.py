"""The settings of the tasks beyond the thesis, declared once: the physics-informed tasks (Rathore et al., ICML 2024)
and image fitting (thesis §6.2.3; Tancik et al., NeurIPS 2020), full batch and in mini-batches — the regime where
second-order methods claim their wins (docs/design.md §4; docs/suite.md, "Physics-informed tasks", "Image fitting").

Each is named after its task's sweep folder (``sweeps/<setting>/``, from
``sweep_sources/programs/physics_informed.yaml`` and ``image_fit.yaml``), so its optimisers are those with a sweep
spec there (``adds_swept_optimisers``) and a cell's tuned config is ``conf/tuned/<setting>_<optim>.yaml``. Their
``thesis_epochs`` are the task files' own budgets (500 steps, the wave 400, image fitting 200 epochs: docs/suite.md,
"Sizes and step costs"), which their headers name as the task's. No target of the reproduction runs them as they are:
the comparison's tracks and the map make settings of their own from them (``comparison_settings``), with their own
seeds and budgets.
"""
from __future__ import annotations

from typing import NamedTuple

from suite.reproduction.setting import Budget, Setting

# (name, label, overrides, the task file's epochs)
_TASKS = (
    ("pinn_convection", "physics-informed convection (β = 40)", ("task=pinn_convection",), 500),
    ("pinn_reaction", "physics-informed reaction (ρ = 5)", ("task=pinn_reaction",), 500),
    ("pinn_wave", "physics-informed wave (β = 5)", ("task=pinn_wave",), 400),
    ("image_fit", "image fitting, full batch", ("task=image_fit",), 200),
    ("image_fit_minibatch", "image fitting, batches of 512", ("task=image_fit", "task.batch_size=512"), 200),
)


def _setting(name: str, label: str, overrides: tuple[str, ...], epochs: int) -> Setting:
    # 3 seeds, --quick 1 seed and a fifth of the budget: the comparison's choices (comparison_settings).
    return Setting(name, label, overrides, (), Budget(3), Budget(1, epochs=epochs // 5), epochs,
                   adds_swept_optimisers=True, thesis_task=False)


PINN_CONVECTION, PINN_REACTION, PINN_WAVE, IMAGE_FIT, IMAGE_FIT_MINIBATCH = (_setting(*task) for task in _TASKS)
PHYSICS_INFORMED = (PINN_CONVECTION, PINN_REACTION, PINN_WAVE)
IMAGE_FITTING = (IMAGE_FIT, IMAGE_FIT_MINIBATCH)


class Published(NamedTuple):
    """Rathore et al.'s (ICML 2024) final L2 relative error on a physics-informed task at the paper's size (10,000
    residual points, 41,000 steps on a GPU, tanh MLPs of width 50–400: ``experiment=pinn_<task>_paper``), their
    Tables 1–2: Adam then L-BFGS, and Adam then L-BFGS then their Newton–CG (NysNewton-CG, NNCG)."""

    adam_lbfgs: float
    adam_lbfgs_nncg: float


PUBLISHED = {
    "pinn_convection": Published(4.19e-3, 1.94e-3),
    "pinn_reaction": Published(1.92e-2, 9.92e-3),
    "pinn_wave": Published(5.52e-2, 1.27e-2),
}
