"""Muon as its authors prescribe it, through ``pytorch_optimizer.Muon``: the parameter groups
(``suite.parameters`` in ``conf/optim/muon.yaml``) and a CPU precision adapter.

Muon is "an optimizer for the hidden weights of a neural network. Other parameters, such as
embeddings, classifier heads, and hidden gains/biases should be optimized using standard AdamW
[…] for a ConvNet, you should use Muon to optimize all the convolutional filters except the first
one, and AdamW to optimize everything else" (K. Jordan, github.com/KellerJordan/Muon, README,
"Usage"). ``pytorch_optimizer.Muon`` takes that split as parameter groups flagged ``use_muon``
(its docstring: "Set `use_muon=True` for hidden weight matrices and `use_muon=False` for AdamW
groups, such as embeddings, classifier heads, biases, and gains").

Reading of "hidden" for the suite's models (``models/``), which are stacks of layers: the weight
layers are the ``nn.Linear`` and ``nn.Conv*`` modules in the order the model declares them; the
first (the input layer: the first convolution, or the first linear layer of an MLP) and the last
(the classifier or regression head) go to AdamW with every bias and normalisation parameter and
anything else (embeddings included), and the weights of the layers between them — the hidden
weight matrices — to Muon. pytorch-optimizer's own ``prepare_muon_parameters`` would give Muon the
first layer too, and finds heads by the name ``head`` only, which would give it the MLPs' output layer.

:class:`Muon` is pytorch-optimizer's, but on a CPU it runs the Newton–Schulz iteration in float32
instead of bfloat16: the iteration was written for GPUs, where bfloat16 matrix products are the
fast ones; on a CPU without bfloat16 units they are emulated (measured here: 0.53 s against 0.019 s
for five iterations on a 256 × 256 matrix, one thread), which would charge Muon's wall-clock columns
for the machine rather than the method. float32 is at least as accurate. On a GPU nothing changes.
"""
from __future__ import annotations

import pytorch_optimizer
import torch
from pytorch_optimizer.optimizer.utils.matrix import zero_power_via_newton_schulz_5
from torch import nn

from .build import DoesNotApply

WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def hidden_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weights of the model's weight layers other than its first and last (see the module docstring)."""
    layers = [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS) and m.weight.requires_grad]
    return [layer.weight for layer in layers[1:-1]]


def hidden_weights_apart(model: nn.Module) -> list[dict]:
    """Two groups for ``pytorch_optimizer.Muon``: the hidden weight matrices (``use_muon=True``) and
    every other trainable parameter (``use_muon=False``, Muon's own AdamW)."""
    hidden = hidden_weights(model)
    if not hidden:
        layers = sum(isinstance(m, WEIGHT_LAYERS) for m in model.modules())
        raise DoesNotApply(f"the model {type(model).__name__} has no hidden weight matrix ({layers} weight "
                           f"layer{'s' * (layers != 1)}): Muon trains the weights of the layers between the first "
                           "and the last, and its authors give those two, biases and gains to AdamW")
    chosen = {id(p) for p in hidden}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in chosen]
    return [dict(params=hidden, use_muon=True), dict(params=rest, use_muon=False)]


class Muon(pytorch_optimizer.Muon):
    """``pytorch_optimizer.Muon``, with the Newton–Schulz iteration in float32 on a CPU (module docstring)."""

    @staticmethod
    def _orthogonalize(group: dict, updates: list[torch.Tensor]) -> list[torch.Tensor]:
        if updates[0].is_cuda or group.get("ns_method", "newton_schulz") != "newton_schulz":
            return pytorch_optimizer.Muon._orthogonalize(group, updates)
        return [zero_power_via_newton_schulz_5(update.reshape(update.size(0), -1), num_steps=group["ns_steps"],
                                               weights=group["ns_coeffs"], dtype=torch.float32)
                for update in updates]
