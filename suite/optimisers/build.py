"""An ``optim=`` config → the optimiser of one run: the one place (``suite.experiment`` calls it).

An optimiser config is Hydra's ``_target_`` (a class or factory), ``_partial_: true`` and its
constructor's arguments, plus two keys that are not arguments: ``name`` (labels the run) and an
optional ``suite:`` node — what the suite needs to know to build and step it, as data
(:class:`SuiteOptions`), so that no optimiser is a special case in ``train.py``, the training loop
or the closure:

```yaml
suite:
  parameters: suite.optimisers.muon.hidden_weights_apart  # model → parameter groups (default: all, one group)
  create_graph: true   # step() takes HVPs of p.grad: the closure keeps the gradient's graph (suite/step_closure.py)
  full_batch: true     # a full-batch method: refuse a task with more than one batch per epoch
  train_eval_modes: true  # optimizer.train() before training steps, optimizer.eval() before evaluation (Schedule-Free)
  phases: [first, then]  # these keys are optimiser configs themselves: built here on the same model, then handed
                         # to the target by name (suite/optimisers/phased.py)
  label: …               # how reports show it: label, colour, line_style, family, thesis_printed — checked here,
                         # read by suite/optimisers/presentation.py, never used to build or step it
```

A config that does not apply to the run (Muon on a model without hidden weight matrices, a
full-batch method on mini-batches) is refused with :class:`DoesNotApply`, which ``train.py``
prints as one line, ``error: optim: <name> does not apply here: <why>`` (exit code 2).
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import torch
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_optimizer.base.exception import NegativeLRError, NegativeStepError

from kryball import KryBall
from suite.config import ConfigError, refuse_unknown_keys

from . import presentation


class DoesNotApply(ValueError):
    """The optimiser cannot run on this task or model; the message says why."""


# What constructors raise for a hyperparameter out of range: ValueError (torch.optim, scipy, most of
# pytorch-optimizer) and pytorch-optimizer's two exceptions that are not ValueErrors.
BAD_HYPERPARAMETER = (ValueError, NegativeLRError, NegativeStepError)


def all_parameters(model: torch.nn.Module):
    """The default grouping: every parameter, one group (what ``torch.optim`` takes)."""
    return model.parameters()


@dataclasses.dataclass(frozen=True)
class SuiteOptions:
    """The ``suite:`` node of an optimiser config: how the suite builds and steps it."""

    parameters: Callable[[torch.nn.Module], object] = all_parameters
    create_graph: bool = False
    full_batch: bool = False
    phases: tuple[str, ...] = ()
    # The optimiser holds other weights while it trains than the ones to evaluate (Schedule-Free's y and its
    # average x): the training loop calls optimizer.train() before each epoch's steps and optimizer.eval()
    # before evaluating, checkpointing and ending the run (set_mode below).
    train_eval_modes: bool = False

    @classmethod
    def of(cls, node: dict | None) -> SuiteOptions:
        """Read and check the node (absent: the defaults); a bad key is a one-line ``optim.suite`` error. Its keys
        for reports are checked too, and left to :mod:`suite.optimisers.presentation`."""
        presentation.Declared.of(node)
        node = {key: value for key, value in (node or {}).items() if key not in presentation.KEYS}
        known = {field.name for field in dataclasses.fields(cls)}
        for key, value in node.items():
            if key not in known:
                raise ConfigError(f"optim.suite.{key}",
                                  f"unknown key (known: {', '.join(sorted([*known, *presentation.KEYS]))})")
            if key == "phases":
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    raise ConfigError("optim.suite.phases", f"must be a list of keys of the config, got {value!r}")
                node[key] = tuple(value)
            elif key != "parameters" and not isinstance(value, bool):
                raise ConfigError(f"optim.suite.{key}", f"must be true or false, got {value!r}")
        if "parameters" in node:
            try:
                node["parameters"] = get_method(node["parameters"])
            except Exception as error:  # noqa: BLE001 — Hydra raises several kinds for a bad path
                raise ConfigError("optim.suite.parameters", f"no function {node['parameters']!r} ({error})") from None
        return cls(**node)


def batches_per_epoch_exceed_one(task) -> bool:
    """Whether the task's epoch has more than one batch: its first two batches are drawn lazily
    (``Task.batches`` is a generator on a (seed, epoch) generator of its own: no global RNG is touched)."""
    return len(list(itertools.islice(task.batches(1), 2))) > 1


def build_optimizer(node: DictConfig | dict, model: torch.nn.Module, task,
                    group: str = "optim") -> torch.optim.Optimizer:
    """The optimiser the config describes, on the model's parameters grouped as it asks. ``group``: where the
    config sits (``optim``, or ``optim.first`` for a phase), for the keys that errors name."""
    spec = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    refuse_unknown_keys(group, spec, supplied=("params",))
    name = spec.pop("name", None) or str(spec.get("_target_"))
    options = SuiteOptions.of(spec.pop("suite", None))
    missing = [key for key in options.phases if not isinstance(spec.get(key), dict)]
    if missing:
        raise ConfigError(f"{group}.{missing[0]}", "a phase must be an optimiser config (suite.phases names it)")
    phases = {key: build_optimizer(spec.pop(key), model, task, f"{group}.{key}") for key in options.phases}
    try:
        if options.full_batch and batches_per_epoch_exceed_one(task):
            raise DoesNotApply(f"it is a full-batch method and the task {type(task).__name__} has more than one "
                               "batch per epoch (it applies to tasks trained on one batch per epoch)")
        optimizer = instantiate(spec)(options.parameters(model), **phases)
    except DoesNotApply as error:
        raise ConfigError("optim", f"{name} does not apply here: {error}") from None
    except BAD_HYPERPARAMETER as error:
        raise ConfigError("optim", f"{name}: {error}") from None
    if getattr(optimizer, "needs_residuals", False) and not (getattr(task, "least_squares", False)
                                                             or getattr(task, "outputs", False)):
        raise ConfigError(f"{group}.curvature", f"{name}: Gauss–Newton curvature needs a least-squares task (a loss "
                                                "made of residuals) or a classification task (a loss of the outputs: "
                                                f"tasks/base.py), and {type(task).__name__} is neither; use "
                                                "curvature=hessian")
    if isinstance(optimizer, KryBall):
        optimizer.model = model  # its buffers (BatchNorm's statistics) advance once per step: kryball/repeatable.py
    if options.create_graph:
        optimizer.create_graph = True  # read by suite.step_closure.make_closure
    if options.train_eval_modes:
        if not all(callable(getattr(optimizer, mode, None)) for mode in ("train", "eval")):
            raise ConfigError("optim.suite.train_eval_modes",
                              f"{name} ({type(optimizer).__name__}) has no train() and eval() methods to switch")
        optimizer.train_eval_modes = True  # read by set_mode
    return optimizer


def set_mode(optimizer: torch.optim.Optimizer, training: bool) -> None:
    """``optimizer.train()`` (``training``) or ``optimizer.eval()`` for an optimiser whose config says
    ``suite.train_eval_modes: true``; nothing for any other. The training loop's one call for both."""
    if not getattr(optimizer, "train_eval_modes", False):
        return
    if training:
        optimizer.train()
    else:
        optimizer.eval()
