"""scripts/reproduce.py end to end in CI size: the plan, one table cell, one figure, reuse, failures.

The runs go through suite.training.run with --threads 1; the ``one_thread`` fixture restores the thread
count that setting changes for the rest of the session."""

import json

import pandas as pd
import pytest
from conftest import write_cifar10

from suite.commands import reproduce
from suite.reproduction import chapter5, run_plan, runner
from suite.reproduction.comparison_settings import SELF_TUNING
from suite.reproduction.map_settings import NEW_WORKLOADS


def test_plan_quick_vs_full_tuned_and_cifar_without_data(tmp_path):
    (tmp_path / "tuned" / "thesis").mkdir(parents=True)  # the thesis protocol's tuned configs
    (tmp_path / "tuned" / "thesis" / "xor_lbfgs.yaml").write_text("# @package _global_\n")
    no_sweeps = tmp_path / "sweeps"  # the settings' optimisers are then the thesis's rows alone
    quick = run_plan.plan(["xor"], tmp_path, quick=True, tuned_dir=tmp_path / "tuned", sweeps_dir=no_sweeps)
    assert len(quick.specs) == 4 * 3  # four optimisers × the quick protocol's 3 seeds
    lbfgs = next(s for s in quick.specs if s.optim == "lbfgs_single")
    assert lbfgs.tuned == "thesis/xor_lbfgs" and "+tuned=thesis/xor_lbfgs" in lbfgs.overrides  # tuned by sweeps/xor/lbfgs.yaml
    assert next(s for s in quick.specs if s.optim == "kryball").tuned is None
    assert lbfgs.run_dir == tmp_path / "runs" / "quick" / "xor" / "lbfgs_single" / "seed0"

    full = run_plan.plan(["table_5_2"], tmp_path, quick=False, common=["device=cpu"],
                         data_dir=str(tmp_path / "nowhere"), sweeps_dir=no_sweeps)
    assert {s.setting.name for s in full.specs} == {"mnist1d"} and len(full.specs) == 3 * 5
    assert not any("epochs=" in o for o in full.specs[0].overrides)  # the thesis budget, 100 epochs
    assert set(full.not_run) == {"cifar10_cnn", "cifar10_resnet"}
    assert "no CIFAR-10 in" in full.not_run["cifar10_cnn"] and "no GPU" in full.not_run["cifar10_cnn"]


@pytest.mark.parametrize("target, settings", [
    ("sensitivity", {"sensitivity_krylov_dim": 10, "sensitivity_refresh": 10, "reconstruction_xor": 5,
                     "reconstruction_mnist1d": 2}),
    ("activations", {"activations": 4}),
])
def test_figure_targets_plan_only_their_settings(tmp_path, target, settings):
    plan = run_plan.plan([target], tmp_path, quick=True)
    names = [s.setting.name for s in plan.specs]
    assert {name: names.count(name) for name in names} == settings  # quick: one seed per value, 5 and 2 seeds
    assert reproduce.parse_args([target, "--quick"]).target == target


def test_all_plans_every_setting_once_and_the_saddle_has_fig_1_2s_optimisers(tmp_path):
    specs = run_plan.plan(list(run_plan.TARGETS), tmp_path, quick=True, common=["device=cpu"]).specs
    assert len({s.run_dir for s in specs}) == len(specs)  # settings shared by targets are run once
    self_tuning = {w.setting.name for w in SELF_TUNING.workloads}  # `all` runs the comparison's tuned track
    the_map = {w.setting.name for w in NEW_WORKLOADS}  # and not the map
    assert {s.setting.name for s in specs} == (set(run_plan.SETTINGS) - {"cifar10_cnn", "cifar10_resnet"} - self_tuning
                                               - the_map)
    assert [s.optim for s in specs if s.setting.name == "saddle"] == ["msgd", "adam", "kryball"]
    reconstruction = next(s for s in specs if s.setting.name == "reconstruction_mnist1d")
    assert "checkpoint=true" in reconstruction.overrides and "epochs=20" in reconstruction.overrides


def test_cifar_needs_the_data_and_a_gpu(tmp_path):
    write_cifar10(tmp_path)
    cnn = chapter5.CIFAR10_CNN
    assert run_plan.cifar_unavailable(cnn, ["device=cpu", f"task.data_dir={tmp_path}"]) == "no GPU"
    missing = run_plan.cifar_unavailable(cnn, ["device=cpu", f"task.data_dir={tmp_path / 'x'}"])
    assert missing.startswith("no CIFAR-10 in") and missing.endswith("no GPU")


def test_one_quick_cell_runs_then_is_reused(tmp_path, one_thread, capsys):
    argv = ["table_5_1", "--quick", "--seeds", "1", "--only", "rosenbrock_u11/kryball", "--out", str(tmp_path)]
    assert reproduce.main(argv) == 0
    first = capsys.readouterr().out
    assert "[1/1] rosenbrock_u11/kryball seed 0: converged at epoch" in first and "(reused)" not in first
    table = pd.read_csv(tmp_path / "table_5_1.quick.csv")
    assert table[["optimiser", "thesis: epochs"]].values.tolist() == [["kryball", 5]]
    markdown = (tmp_path / "table_5_1.quick.md").read_text()
    assert "quick (CPU-sized; not the thesis protocol)" in markdown and "1 seed × 2000 epochs" in markdown
    tuned = run_plan.tuned_name(chapter5.ROSENBROCK_U11, "kryball")  # conf/tuned/ decides which it is
    assert (f"tuned: +tuned={tuned}" if tuned else "untuned defaults") in markdown

    assert reproduce.main(argv) == 0  # an interrupted or repeated reproduction reuses finished runs
    assert "(reused)" in capsys.readouterr().out


def test_a_changed_config_or_unfinished_run_is_run_again(tmp_path, one_thread):
    spec = run_plan.plan(["figures"], tmp_path, quick=True, only=["saddle/kryball"]).specs[0]
    outcome = runner.run_one(spec)
    assert outcome.status == "completed" and not outcome.reused
    assert runner.run_one(spec).reused
    path = spec.run_dir / "summary.json"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "status": "running"}))
    assert not runner.run_one(spec).reused
    path.write_text(json.dumps({**saved, "config": {**saved["config"], "epochs": 3}}))
    assert not runner.run_one(spec).reused


def test_an_interrupted_run_with_checkpoints_resumes(tmp_path, one_thread):
    spec = run_plan.plan(["figures"], tmp_path, quick=True, only=["saddle/kryball"],
                         common=["checkpoint=true"]).specs[0]
    first = runner.run_one(spec).summary
    path = spec.run_dir / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "running"}))  # killed mid-run
    outcome = runner.run_one(spec)
    resumed = outcome.summary
    assert not outcome.reused and resumed.config["resume"] is True
    assert resumed.status == "completed" and resumed.wall_time_s == first.wall_time_s
    assert runner.run_one(spec).reused  # and is then reused, `resume` aside


def test_a_crashing_run_is_recorded_as_failed_and_the_rest_goes_on(tmp_path, one_thread):
    good = run_plan.plan(["figures"], tmp_path, quick=True, only=["saddle/kryball"]).specs[0]
    bad = run_plan.RunSpec(good.setting, "kryball", 1, tmp_path / "bad", (*good.overrides, "optim.krylov_dim=0"), None)
    records = runner.run_all([bad, good], report=lambda line: None).frame
    assert records["status"].tolist() == ["failed", "completed"]
    assert "krylov_dim" in records.loc[0, "error"]


def test_quick_figure_of_one_cell(tmp_path, one_thread, capsys):
    assert reproduce.main(["figures", "--quick", "--only", "saddle", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig_1_2_saddle.quick.png").stat().st_size > 10_000
    assert not (tmp_path / "fig_5_1_rosenbrock.quick.png").exists()  # no runs, no figure


def test_sensitivity_writes_the_reconstruction_report_and_only_its_figures(tmp_path, one_thread, capsys):
    argv = ["sensitivity", "--quick", "--seeds", "2", "--only", "reconstruction_xor", "--out", str(tmp_path)]
    assert reproduce.main(argv) == 0
    errors = pd.read_csv(tmp_path / "reconstruction.quick.csv")
    assert len(errors) == 2 * 2 * 10  # seeds × (start, end) × M = 1…10
    for _, curve in errors.groupby(["seed", "point"]):
        best = curve.sort_values("krylov_dim")["best_error"].to_numpy()
        assert (best[1:] <= best[:-1] + 1e-12).all() and 0 < best[-1] < 1  # nested Krylov spaces: never worse
        assert (curve["best_error"] <= curve["kryball_error"] + 1e-12).all()  # the projection is the best
    markdown = (tmp_path / "reconstruction.quick.md").read_text()
    assert "eqs 5.5–5.12" in markdown and "end: KryBall's direction" in markdown and "2 seeds" in markdown
    assert (tmp_path / "reconstruction.quick.png").stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["reconstruction.quick.png"]  # no Fig. 5.5 runs


def test_cifar_rows_are_marked_not_run_with_the_command(tmp_path, one_thread, capsys):
    argv = ["table_5_2", "--quick", "--only", "cifar10_cnn", "--device", "cpu", "--out", str(tmp_path)]
    assert reproduce.main(argv) == 0
    assert "not run here: cifar10_cnn" in capsys.readouterr().out
    markdown = (tmp_path / "table_5_2.quick.md").read_text()
    assert "not run here" in markdown and "--device cuda --data-dir DIR" in markdown and "0.782" in markdown
    table = pd.read_csv(tmp_path / "table_5_2.quick.csv")
    optimisers = chapter5.CIFAR10_CNN.optimisers()  # the thesis's rows, then those with a sweep spec
    assert table["optimiser"].tolist() == list(optimisers)
    beyond = [o for o in optimisers if chapter5.CIFAR10_CNN.beyond_thesis(o)]
    assert table.loc[table["optimiser"].isin(beyond), "thesis: final test accuracy"].eq("beyond the thesis").all()


@pytest.mark.parametrize("argv", [["tables"], ["xor", "--seeds", "0"], ["xor", "--only", "xor/lbfgs"],
                                  ["xor", "--only", "mnist"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        reproduce.main(argv)
    assert exit.value.code == 2


def test_only_must_select_something_of_the_target(tmp_path, one_thread, capsys):
    assert reproduce.main(["xor", "--only", "mnist1d", "--out", str(tmp_path)]) == 2
    assert "selects nothing of xor" in capsys.readouterr().err
