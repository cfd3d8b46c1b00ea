"""``time_budget_s`` (conf/config.yaml, suite/training.py): a run stops after the first epoch whose cumulative
training wall-clock reaches the budget, as if its epochs had run out; ``epochs`` stays an upper limit; a resumed
run that had stopped there does not go on; bad values are one-line errors. The clock is replaced by one that
advances a fixed time per epoch, so that which epoch reaches the budget is known."""

import types

import pytest
from conftest import compose_config

from suite import training
from suite.config import ConfigError, check_config
from suite.training import run

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCH_S = 0.25  # what the fake clock says each epoch's steps took


@pytest.fixture
def fake_clock(monkeypatch):
    """suite.training's clock, advancing EPOCH_S between the start and the end of each epoch's steps."""
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks) * EPOCH_S))


def xor(*overrides):
    return compose_config(["task=xor", "optim=adam", "stop_on_convergence=false", *overrides])


def test_the_run_stops_after_the_first_epoch_that_reaches_the_budget(fake_clock, tmp_path):
    summary = run(xor("epochs=1000", "time_budget_s=0.9"), tmp_path)
    # 0.25, 0.5, 0.75 s < 0.9 ≤ 1.0 s: the fourth epoch reaches it
    assert (summary.status, summary.epochs_run, summary.wall_time_s) == ("completed", 4, 4 * EPOCH_S)
    assert summary.config["time_budget_s"] == 0.9  # recorded with the config


def test_epochs_stay_an_upper_limit_and_no_budget_is_none(fake_clock, tmp_path):
    assert run(xor("epochs=3", "time_budget_s=100"), tmp_path / "cap").epochs_run == 3
    assert run(xor("epochs=7"), tmp_path / "none").epochs_run == 7


def test_a_converged_run_keeps_its_status_when_the_budget_ends_it(fake_clock, tmp_path):
    stops = run(compose_config(["task=rosenbrock", "optim=kryball", "time_budget_s=1000"]), tmp_path / "stops")
    assert stops.status == "converged" and stops.epochs_run == stops.epochs_to_convergence < 2000
    goes_on = run(compose_config(["task=rosenbrock", "optim=kryball", "stop_on_convergence=false",
                                  f"time_budget_s={EPOCH_S * (stops.epochs_run + 3)}"]), tmp_path / "goes_on")
    assert goes_on.status == "converged" and goes_on.epochs_run == stops.epochs_run + 3


def test_a_run_resumed_after_its_budget_does_not_go_on(fake_clock, tmp_path):
    overrides = ["epochs=1000", "time_budget_s=0.5", "checkpoint=true"]
    first = run(xor(*overrides), tmp_path)
    again = run(xor(*overrides, "resume=true"), tmp_path)
    assert first.status == again.status == "completed" and first.epochs_run == again.epochs_run == 2
    assert again.loss_evals == first.loss_evals


@pytest.mark.parametrize("value", ["0", "-1.5", "abc", "true", ".nan"])
def test_a_bad_budget_is_named(value):
    with pytest.raises(ConfigError, match="must be a number of seconds > 0, or null") as error:
        check_config(compose_config([f"time_budget_s={value}"]))
    assert error.value.key == "time_budget_s"
