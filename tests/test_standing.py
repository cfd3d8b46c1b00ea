"""The closing line of a run: where it stands against the comparison's committed per-run results of the track
that matches how it was configured (suite/standing.py): a run at its defaults against the self-tuning track, a
``+tuned=`` run against the tuned track (or, until that is published, the sweeps' results files)."""

import json
import subprocess
import sys

import pytest

from suite import comparison_results
from suite.config import REPO
from suite.run_record import RunSummary
from suite.standing import standing_lines

MNIST1D = {"_target_": "tasks.mnist1d.MNIST1D", "name": "mnist1d", "batch_size": 512, "num_samples": 5000,
           "validation_fraction": 0.1, "split_seed": 0}
ROSENBROCK = {"_target_": "tasks.rosenbrock.Rosenbrock", "name": "rosenbrock", "noise_low": 1.0, "noise_high": 1.0}


def write_results(folder, optim, seeds, task=MNIST1D, epochs=100, protocol="robust"):
    """A sweep's results file (conf/tuned/<task>_<optim>.results.json), its re-run seeds' summaries."""
    data = {"format": 1, "protocol": protocol, "spec": f"sweeps/mnist1d/{optim}.yaml",
            "use": f"python train.py experiment=table5_2_mnist1d_mlp optim={optim} +tuned=mnist1d_{optim}",
            "seeds": seeds, "setting": {"task": task, "epochs": epochs}}
    (folder / f"mnist1d_{optim}.results.json").write_text(json.dumps(data))


def publish(folder, track, cells, task=MNIST1D, epochs=100, time_budget_s=None, name="mnist1d"):
    """A track's per-run results of one workload: ``cells`` maps optimiser -> per-seed final fields."""
    rows = [{"setting": f"{track}_{name}", "optimiser": optim, "seed": 100 + i, "status": status, **fields}
            for optim, seeds in cells.items() for i, (status, fields) in enumerate(seeds)]
    comparison_results.write(comparison_results.path(folder, track, name), rows)
    comparison_results.write_index(folder, track, {name: {"task": task, "epochs": epochs,
                                                         "time_budget_s": time_budget_s}})


def run_summary(optim="kryball_plus", task=MNIST1D, epochs=100, **outcomes):
    return RunSummary(task=task["name"], optim=optim, model="mlp", seed=0, status="completed",
                      config={"task": task, "epochs": epochs}, **outcomes)


def accuracies(*values):
    return [("completed", {"final_test_acc": value}) for value in values]


@pytest.fixture
def published(tmp_path):
    """Both tracks published for MNIST-1D: the self-tuning one for 30 s a run (its epochs a cap), the tuned one for
    100 epochs; a failed run is not counted."""
    publish(tmp_path, "self_tuning", {"adam": accuracies(0.50, 0.52, 0.54) + [("failed", {})],
                                      "prodigy": accuracies(0.58), "kryball_plus": accuracies(0.99)},
            epochs=1_000_000, time_budget_s=30.0)
    publish(tmp_path, "tuned", {"adam": accuracies(0.62, 0.64), "soap": accuracies(0.69)})
    return tmp_path


def test_a_run_at_its_defaults_stands_against_the_self_tuning_track(published):
    [line] = standing_lines(run_summary(final_test_acc=0.6), "self_tuning", tuned_dir=published, folder=published)
    assert "this run: 0.600" in line and "self-tuning track (every optimiser at its defaults, 30 s of training" in line
    # mean 0.52 ± t(0.975, 2) · 0.02 / √3 = 0.050; the failed run left out; the run's own optimiser too
    assert "Adam 0.520 ± 0.050" in line and "Prodigy 0.580" in line and "KryBall+" not in line
    assert "conf/tuned/comparison" not in line and "self_tuning/mnist1d.csv" in line and "SOAP" not in line


def test_a_tuned_run_stands_against_the_tuned_track_of_the_same_epochs(published):
    [line] = standing_lines(run_summary(final_test_acc=0.6), "tuned", tuned_dir=published, folder=published)
    assert "tuned track (every optimiser tuned for this task, 100 epochs each)" in line
    assert "SOAP 0.690" in line and "Adam 0.630 ±" in line and "Prodigy" not in line
    # another epoch budget: not the tuned track's runs (and no sweep results file here either)
    assert standing_lines(run_summary(epochs=20, final_test_acc=0.6), "tuned", published, published) == []
    # the self-tuning track is matched on the task alone: its budget is wall-clock, not epochs
    assert standing_lines(run_summary(epochs=20, final_test_acc=0.6), "self_tuning", published, published)


def test_until_the_tuned_track_is_published_a_tuned_run_reads_the_sweeps_results(tmp_path):
    write_results(tmp_path, "adam", [{"seed": s, "final_test_acc": a} for s, a in ((1, 0.60), (2, 0.62), (3, 0.64))])
    write_results(tmp_path, "msgd", [{"seed": 1, "final_test_acc": 0.65}])
    write_results(tmp_path, "kryball_plus", [{"seed": 1, "final_test_acc": 0.99}])  # the run's own optimiser
    write_results(tmp_path, "soap", [{"seed": 1, "final_test_acc": 0.5}], epochs=20)  # another budget
    write_results(tmp_path, "muon", [{"seed": 1, "final_test_acc": 0.5}], protocol="thesis")  # another protocol
    [line] = standing_lines(run_summary(final_test_acc=0.672), "tuned", tuned_dir=tmp_path, folder=tmp_path)
    assert "this run: 0.672" in line and "re-run seeds of the sweeps, over 1–3 seeds each" in line
    assert "Adam 0.620 ± 0.050" in line and "MSGD 0.650" in line
    assert "KryBall+" not in line and "SOAP" not in line and "Muon" not in line
    # a run at its defaults has nothing to stand against until the self-tuning track is published
    assert standing_lines(run_summary(final_test_acc=0.672), "self_tuning", tmp_path, tmp_path) == []


def test_nothing_is_printed_without_a_matching_task(published):
    other = {**MNIST1D, "batch_size": 64}
    for track in ("tuned", "self_tuning"):
        assert standing_lines(run_summary(task=other, final_test_acc=0.6), track, published, published) == []


def test_a_function_task_is_placed_by_convergence(tmp_path):
    converged = [("converged", {"epochs_to_convergence": e}) for e in (900, 700)] + [("completed", {})]
    publish(tmp_path, "self_tuning", {"adam": converged}, task=ROSENBROCK, epochs=1_000_000, time_budget_s=10.0,
            name="rosenbrock_u11")
    summary = run_summary(optim="kryball", task=ROSENBROCK, epochs=2000, epochs_to_convergence=18)
    [line] = standing_lines(summary, "self_tuning", tmp_path, tmp_path)
    assert "this run: converged in 18 epochs" in line and "Adam 2/3 converged in 800 epochs (median)" in line


PINN_REACTION = {"_target_": "tasks.pinn.PINN", "name": "pinn_reaction", "num_residual": 1000}


def test_a_physics_informed_run_is_placed_by_its_error_and_the_tuned_track_names_its_cap(tmp_path):
    errors = [("completed", {"final_l2_relative_error": e}) for e in (0.04, 0.06)]
    publish(tmp_path, "tuned", {"adam_then_lbfgs": errors}, task=PINN_REACTION, epochs=500, time_budget_s=120.0,
            name="pinn_reaction")
    summary = run_summary(optim="kryball_plus", task=PINN_REACTION, epochs=500, final_l2_relative_error=0.979)
    [line] = standing_lines(summary, "tuned", tmp_path, tmp_path)
    assert "final L2 relative error, mean ± 95 % CI; this run: 0.979" in line
    assert "500 epochs each, at most 120 s" in line and "Adam → LBFGS 0.050 ±" in line


def test_a_bad_track_is_refused():
    with pytest.raises(ValueError, match="track must be one of tuned, self_tuning"):
        standing_lines(run_summary(final_test_acc=0.6), "selftuning")


def test_train_py_picks_the_track_by_plus_tuned(tmp_path):
    """The same XOR run, once with +tuned=: only that one stands against the tuned results (the committed sweep
    results of conf/tuned/, or the tuned track once published); without it, against the self-tuning track."""
    lines = {}
    for name, extra in (("tuned", ["+tuned=xor_adam"]), ("defaults", [])):
        result = subprocess.run([sys.executable, str(REPO / "train.py"), "experiment=fig5_3_xor", "optim=adam",
                                 "threads=1", *extra, f"hydra.run.dir={tmp_path / name}"],
                                capture_output=True, text=True, cwd=tmp_path, timeout=180)
        assert result.returncode == 0, result.stderr
        lines[name] = [line for line in result.stdout.splitlines() if "where it stands" in line]
    [tuned] = lines["tuned"]
    assert "tuned" in tuned.split("):")[1] and "self-tuning" not in tuned
    assert all("self-tuning track" in line for line in lines["defaults"])


def test_tiny_errors_and_diverged_runs_keep_their_digits(tmp_path):
    errors = [("completed", {"final_l2_relative_error": e}) for e in (3e-4, 5e-4)]
    diverged = [("completed", {"final_l2_relative_error": e}) for e in (4.6e97, 1.0)]
    publish(tmp_path, "self_tuning", {"lbfgs": errors, "msgd": diverged}, task=PINN_REACTION, epochs=1_000_000,
            time_budget_s=30.0, name="pinn_reaction")
    summary = run_summary(optim="kryball_plus", task=PINN_REACTION, epochs=500, final_l2_relative_error=2e-4)
    [line] = standing_lines(summary, "self_tuning", tmp_path, tmp_path)
    assert "this run: 0.0002" in line and "LBFGS 0.0004 ± 0.00127" in line
    assert "MSGD 2.3e+97 ± 2.92e+98" in line
