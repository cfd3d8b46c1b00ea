"""The ablation's measured gradient-equivalents: what an HVP and a forward pass cost, in gradients,
on a setting's model and first batch on this machine (thesis §5.5.5 counts KryBall's overhead in
HVPs; here they are weighed by time, ``suite.bench.primitive_costs``).

The weighting itself, and the nominal one the thesis figures use (an HVP counted as one gradient),
are :class:`suite.records.GradientEquivalents`.
"""
from __future__ import annotations

import functools

import torch

from suite.bench import primitive_costs
from suite.config import compose_config
from suite.records import GradientEquivalents
from suite.reproduction.checkpointed import starting_point
from suite.reproduction.setting import Setting


@functools.cache
def measured(setting: Setting) -> GradientEquivalents:
    """HVP and forward cost in gradients on the setting's model and first batch (CPU, this machine)."""
    model, loss = starting_point(compose_config([*setting.overrides, "optim=adam"]))
    ms = primitive_costs(model, loss, torch.device("cpu"), repeats=30, warmup=5)
    return GradientEquivalents(hvp=ms["hvp_ms"] / ms["gradient_ms"], forward=ms["forward_ms"] / ms["gradient_ms"],
                               measured_on=setting.label)
