"""Phased optimisers (suite/optimisers/phased.py, conf/optim/adam_then_*.yaml): the switch happens after
``switch_after`` steps, the closure serves each phase as that phase needs, the counts are cumulative across
the switch, and the state round-trips so that a resumed run is the uninterrupted one."""

import copy

import pytest
import torch
from conftest import compose_config, metrics_rows, straight_and_resumed

from kryball import KryBall
from suite.experiment import build_experiment
from suite.optimisers.phased import Phased
from suite.step_closure import Counts, make_closure
from suite.training import run

pytestmark = pytest.mark.usefixtures("one_thread")

PHASED = ["adam_then_lbfgs", "adam_then_kryball", "adam_then_kryball_plus", "adam_then_trust_krylov"]
RAHIMI_RECHT = ["task=rahimi_recht", "task.num_samples=50", "task.dim=4", "model.hidden_sizes=[4]"]


@pytest.mark.parametrize("optim", PHASED)
def test_every_phased_config_builds_its_two_phases(optim):
    cfg = compose_config([*RAHIMI_RECHT, f"optim={optim}"])
    optimizer = build_experiment(cfg, torch.device("cpu")).optimizer
    assert isinstance(optimizer, Phased) and isinstance(optimizer.first, torch.optim.Adam)
    assert type(optimizer.then).__name__ == {"adam_then_lbfgs": "LBFGS", "adam_then_kryball": "KryBall",
                                             "adam_then_kryball_plus": "KryBall",
                                             "adam_then_trust_krylov": "TrustKrylov"}[optim]
    assert optimizer.switch_after == 1000  # the paper's, where the task sets no first_phase_steps
    assert compose_config(["task=pinn_wave", f"optim={optim}"]).optim.switch_after == \
        compose_config(["task=pinn_wave"]).first_phase_steps


def test_it_switches_after_switch_after_steps_and_the_closure_follows_the_phase():
    cfg = compose_config([*RAHIMI_RECHT, "optim=adam_then_kryball_plus", "optim.switch_after=2"])
    experiment = build_experiment(cfg, torch.device("cpu"))
    task, model, optimizer = experiment.task, experiment.model, experiment.optimizer
    stepped = []
    for phase in (optimizer.first, optimizer.then):
        def recorded(closure, step=phase.step, name=type(phase).__name__):
            stepped.append(name)
            return step(closure)

        phase.step = recorded
    counts = Counts()
    for step in range(4):
        assert (optimizer.computes_gradients, optimizer.samples_curvature) == ((False, False) if step < 2
                                                                               else (True, True))
        optimizer.step(make_closure(model, lambda m, **kw: task.loss(m, next(task.batches(1)), **kw), optimizer,
                                    counts))
        counts.sync(optimizer)
    assert stepped == ["Adam", "Adam", "KryBall", "KryBall"]
    # Adam's two steps (a gradient each), then KryBall's own counts on top
    kryball = optimizer.then.totals
    assert counts == Counts(gradient_evals=2 + kryball["gradient_evals"], hvps=kryball["hvps"],
                            loss_evals=2 + kryball["loss_evals"])


@pytest.mark.parametrize("optim", ["adam_then_lbfgs", "adam_then_kryball"])
def test_a_run_counts_both_phases_cumulatively(optim, tmp_path):
    summary = run(compose_config([*RAHIMI_RECHT, f"optim={optim}", "optim.switch_after=3", "epochs=5",
                                  "stop_on_convergence=false"]), tmp_path)
    assert summary.status in ("completed", "converged"), summary.error
    recorded = [(int(r["gradient_evals"]), int(r["hvps"]), int(r["loss_evals"]))
                for r in metrics_rows(tmp_path, drop=())]
    assert recorded[:3] == [(1, 0, 1), (2, 0, 2), (3, 0, 3)]  # Adam: one gradient and one loss a step
    assert all(later[0] > earlier[0] and later[2] > earlier[2] for earlier, later in zip(recorded, recorded[1:]))
    assert (recorded[-1][1] > 0) == (optim == "adam_then_kryball")


def test_the_state_round_trips_through_the_switch():
    cfg = compose_config([*RAHIMI_RECHT, "optim=adam_then_kryball", "optim.switch_after=2"])

    def steps(experiment, n, counts):
        task, model, optimizer = experiment.task, experiment.model, experiment.optimizer
        for _ in range(n):
            optimizer.step(make_closure(model, lambda m: task.loss(m, next(task.batches(1))), optimizer, counts))
            counts.sync(optimizer)

    straight, counts = build_experiment(cfg, torch.device("cpu")), Counts()
    steps(straight, 4, counts)
    part, part_counts = build_experiment(cfg, torch.device("cpu")), Counts()
    steps(part, 3, part_counts)
    saved = copy.deepcopy((part.model.state_dict(), part.optimizer.state_dict(), torch.get_rng_state()))
    resumed = build_experiment(cfg, torch.device("cpu"))
    resumed.model.load_state_dict(saved[0])
    resumed.optimizer.load_state_dict(saved[1])
    torch.set_rng_state(saved[2])
    assert resumed.optimizer.steps == 3 and resumed.optimizer.before_switch == part.optimizer.before_switch
    resumed_counts = Counts(**part_counts.as_dict())
    steps(resumed, 1, resumed_counts)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert resumed_counts == counts and isinstance(resumed.optimizer.then, KryBall)


def test_a_run_resumed_across_the_switch_gives_the_uninterrupted_result(tmp_path):
    overrides = ["task=pinn_reaction", "task.num_x=17", "task.num_t=9", "task.num_residual=60",
                 "model.hidden_sizes=[8,8,8]", "optim=adam_then_kryball_plus", "epochs=4", "first_phase_steps=2",
                 "checkpoint=true"]
    straight, _, resumed = straight_and_resumed(overrides, tmp_path)
    assert resumed.status == straight.status == "completed"
    assert metrics_rows(tmp_path / "resumed") == metrics_rows(tmp_path / "straight")


def test_switch_after_must_be_a_step_count():
    cfg = compose_config([*RAHIMI_RECHT, "optim=adam_then_lbfgs", "optim.switch_after=-1"])
    from suite.config import ConfigError

    with pytest.raises(ConfigError, match="switch_after must be an integer ≥ 0") as error:
        build_experiment(cfg, torch.device("cpu"))
    assert error.value.key == "optim"
