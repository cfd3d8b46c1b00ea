"""The embedded sweep engine on toy objectives (no training): Hyperband prunes at its rungs,
a study resumes, and two worker processes share one journal file (thesis §5.2.5, docs/sweeps.md)."""
import math
import os
import pathlib
import socket
import subprocess

import optuna
import pytest
from optuna.trial import TrialState

from suite.config import REPO
from suite.sweeps import local
from suite.sweeps.space import search_space
from suite.sweeps.spec import load

TOY_SPEC = """\
method: {method}
metric: {{name: train_loss, goal: minimize, impute: latest}}
early_terminate: {{type: hyperband, eta: 3, min_iter: 3}}
run_cap: 20
program: train.py
command:
  - ${{env}}
  - ${{interpreter}}
  - ${{program}}
  - epochs=30
  - ${{args_no_hyphens}}
parameters:
  optim.x: {{distribution: uniform, min: 0.0, max: 1.0}}
  optim.k: {{distribution: int_uniform, min: 1, max: 4}}
"""


def half_bad(overrides, run_dir, report):
    """A loss curve that decays for every configuration, ten times higher when x > 0.5."""
    params = dict(o.split("=", 1) for o in overrides)
    scale = 10.0 if float(params["optim.x"]) > 0.5 else 1.0
    loss = math.nan
    for epoch in range(1, 31):
        loss = scale * math.exp(-0.05 * epoch * int(params["optim.k"]))
        if report(epoch, loss):
            break
    return loss


def job(tmp_path: pathlib.Path, method="bayes", **kw) -> local.Job:
    spec = tmp_path / "sweeps" / "toy" / "opt.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(TOY_SPEC.format(method=method))
    spec = load(spec)
    defaults = dict(spec=spec, space=search_space(spec), overrides=("epochs=30",), evaluate=half_bad,
                    max_resource=30, storage=str(tmp_path / "journal.log"), study_name="toy-opt",
                    out_dir=tmp_path / "runs")
    return local.Job(**{**defaults, **kw})


def finished(study):
    return study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))


def test_hyperband_prunes_bad_configurations_at_rungs(tmp_path, capsys):
    # Random sampling keeps half the trials bad, so what is pruned is Hyperband's doing alone.
    study = local.run(job(tmp_path, method="random", seed=0), trials=30)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert pruned, "Hyperband pruned nothing"
    assert {t.last_step for t in pruned} <= {3, 9, 27}  # min_iter * eta**k, below the last epoch
    pruned_ids = {t.number for t in pruned}

    def share_pruned(bad):
        group = [t for t in finished(study) if (t.params["optim.x"] > 0.5) == bad]
        return sum(t.number in pruned_ids for t in group) / len(group)

    assert share_pruned(bad=True) > share_pruned(bad=False)
    assert study.best_trial.params["optim.x"] <= 0.5
    lines = [l for l in capsys.readouterr().out.splitlines() if "] trial " in l]
    assert len(lines) == 30 and any("pruned at epoch" in l for l in lines)
    assert all("best" in l for l in lines)


def test_resume_adds_trials_and_fails_orphans(tmp_path):
    first = local.run(job(tmp_path), trials=3)
    assert len(finished(first)) == 3
    # A trial left RUNNING by a killed worker on this machine (its pid no longer exists).
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = first.ask()
    first._storage.set_trial_user_attr(orphan._trial_id, "worker", f"{socket.gethostname()}:{dead.pid}")
    again = local.run(job(tmp_path), trials=4)
    states = [t.state for t in again.get_trials()]
    assert states.count(TrialState.FAIL) == 1 and TrialState.RUNNING not in states
    assert len(finished(again)) == 7
    assert [t.number for t in again.get_trials()] == list(range(8))


def test_two_workers_share_one_study(tmp_path):
    study = local.run(job(tmp_path), trials=7, workers=2)
    reloaded = optuna.load_study(study_name="toy-opt", storage=local.open_storage(str(tmp_path / "journal.log")))
    trials = reloaded.get_trials()
    assert len(trials) == 7 and len({t.number for t in trials}) == 7
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # really two processes
    assert os.getpid() not in {int(t.user_attrs["worker"].rpartition(":")[2]) for t in trials}


def test_convergence_score_orders_converged_then_by_loss():
    from suite.sweeps.objective import trial_value

    def score(**summary):
        return trial_value("epochs_to_convergence", "minimize", {"status": "completed", **summary}, 100)

    converged = score(epochs_to_convergence=99, final_train_loss=1e-4)
    close, far = score(final_train_loss=1e-3), score(final_train_loss=1e3)
    assert converged == 99 and 101 < close < far < 102
    assert score(status="diverged", final_train_loss=math.inf) == 102


@pytest.mark.parametrize("metric, goal, field, worst", [
    ("l2_relative_error", "minimize", "final_l2_relative_error", math.inf),  # the physics-informed tasks
    ("test_psnr", "maximize", "final_test_psnr", -math.inf),  # image fitting
])
def test_the_least_squares_metrics_score_their_final_value_and_a_diverged_run_the_worst(metric, goal, field, worst):
    from suite.sweeps.objective import trial_value

    assert trial_value(metric, goal, {"status": "completed", field: 0.25}, 500) == 0.25
    assert trial_value(metric, goal, {"status": "diverged", field: 0.25}, 500) == worst


def test_a_goal_against_the_way_the_metric_improves_is_refused():
    from suite.sweeps.backend import prepare
    from suite.sweeps.spec import SpecError, parse

    spec = load(REPO / "sweeps" / "image_fit" / "adam.yaml")
    with pytest.raises(SpecError, match="test_psnr is better higher .*expected maximize, got minimize"):
        prepare(parse({**spec.raw, "metric": {**spec.raw["metric"], "goal": "minimize"}}, spec.path))


def test_anchors_run_first_once_and_again_only_if_their_run_failed(tmp_path):
    from suite.sweeps.backend import Anchor

    study, _ = local.open_study(job(tmp_path))
    anchors = [Anchor("defaults", {"optim.x": 0.25, "optim.k": 2}), Anchor("thesis", {"optim.x": 0.75, "optim.k": 1})]
    assert local.enqueue_anchors(study, anchors) == 2
    assert local.enqueue_anchors(study, anchors) == 2  # queued already: not twice
    first = local.run(job(tmp_path), trials=3)
    params = [(t.params["optim.x"], t.params["optim.k"], t.user_attrs.get("anchor")) for t in first.get_trials()]
    assert params[:2] == [(0.25, 2, "defaults"), (0.75, 1, "thesis")] and params[2][2] is None
    assert local.enqueue_anchors(first, anchors) == 0  # they ran: not again
    failed = first.ask()
    first._storage.set_trial_user_attr(failed._trial_id, "anchor", "lost")
    first.tell(failed, state=TrialState.FAIL)
    assert local.enqueue_anchors(first, [Anchor("lost", {"optim.x": 0.5, "optim.k": 3})]) == 1
