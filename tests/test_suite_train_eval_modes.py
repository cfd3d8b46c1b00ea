"""Optimisers that evaluate other weights than they train (``suite.train_eval_modes``: Schedule-Free AdamW,
conf/optim/schedule_free_adamw.yaml): the training loop steps in train mode, and evaluates, checkpoints and ends
in eval mode — at the averaged weights x its authors say to evaluate, not at the training point y."""

import functools

import pytest
import torch
from conftest import compose_config

from suite.checkpoint import NAME, load_checkpoint
from suite.config import ConfigError
from suite.experiment import build_experiment
from suite.step_closure import Counts, make_closure
from suite.training import run

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCHS = 10
OVERRIDES = ["task=xor", "optim=schedule_free_adamw", "optim.lr=0.05", f"epochs={EPOCHS}", "stop_on_convergence=false"]


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def reference():
    """The same run in a plain loop that never leaves train mode, then ``optimizer.eval()`` once at the end:
    the model and task, the training point y and the averaged weights x."""
    experiment = build_experiment(compose_config(OVERRIDES), torch.device("cpu"))
    task, model, optimizer = experiment.task, experiment.model, experiment.optimizer
    for epoch in range(1, EPOCHS + 1):
        for batch in task.batches(epoch):
            optimizer.step(make_closure(model, functools.partial(task.loss, batch=batch), optimizer, Counts()))
    y = flat(model)
    optimizer.eval()
    return task, model, y, flat(model)


def test_evaluation_checkpoint_and_end_see_the_averaged_weights(tmp_path):
    summary = run(compose_config([*OVERRIDES, "checkpoint=true"]), tmp_path)
    saved = load_checkpoint(tmp_path / NAME, torch.device("cpu"))
    task, model, y, x = reference()
    assert not torch.allclose(x, y, atol=1e-2)  # the average lags the training point by far more than round-off
    model.load_state_dict(saved["model"])
    assert torch.allclose(flat(model), x, rtol=1e-5, atol=1e-6)  # what was saved (and left) is x
    assert all(group["train_mode"] is False for group in saved["optimizer"]["param_groups"])
    # What was evaluated after the last epoch is x's loss, not y's.
    at_x = task.evaluate(model)["test_loss"]
    torch.nn.utils.vector_to_parameters(y, model.parameters())
    at_y = task.evaluate(model)["test_loss"]
    assert summary.final_test_loss == pytest.approx(at_x, rel=1e-6) and abs(at_x - at_y) > 1e-4


def test_an_optimiser_without_modes_is_refused_and_others_are_left_alone():
    with pytest.raises(ConfigError, match=r"adam \(Adam\) has no train\(\) and eval\(\) methods") as error:
        build_experiment(compose_config(["task=xor", "optim=adam", "+optim.suite.train_eval_modes=true"]),
                         torch.device("cpu"))
    assert error.value.key == "optim.suite.train_eval_modes"
    adam = build_experiment(compose_config(["task=xor", "optim=adam"]), torch.device("cpu")).optimizer
    assert not getattr(adam, "train_eval_modes", False)
