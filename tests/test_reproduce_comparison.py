"""The comparison protocol (``scripts/reproduce.py comparison``): its plan (seeds per cell, tuned
configs), performance profiles on a hand-made example (suite/reproduction/profiles.py), and a tiny
end-to-end run."""

import dataclasses
import math

import pandas as pd
import pytest

from suite.commands import reproduce
from suite.reproduction import chapter5, profiles, protocol
from suite.reproduction.comparison_settings import MNIST1D, WORKLOADS

INF = math.inf


def test_the_plan_has_ten_seeds_five_where_expensive_and_its_own_run_folders(tmp_path):
    specs = protocol.plan(["comparison"], tmp_path, quick=False).specs
    seeds = pd.DataFrame([(s.setting.name, s.optim) for s in specs], columns=["setting", "optim"]).value_counts()
    assert seeds[("comparison_mnist1d", "adam")] == 10 and seeds[("comparison_mnist1d", "msgd")] == 10
    assert seeds[("comparison_mnist1d", "kryball")] == 5 and seeds[("comparison_mnist1d", "kryball_plus")] == 5
    assert seeds[("comparison_rahimi_recht_k1e5", "kryball")] == 10  # cheap on a function problem
    assert {s.setting.name for s in specs} == {w.setting.name for w in WORKLOADS}
    kryball = next(s for s in specs if s.setting.name == "comparison_xor" and s.optim == "kryball")
    assert kryball.run_dir == tmp_path / "runs" / "full" / "comparison_xor" / "kryball" / "seed100"  # not the thesis's
    # seeds no sweep selected on (search seed 0, re-run seeds 1–3)
    assert {s.seed for s in specs if s.setting.name == "comparison_xor" and s.optim == "kryball"} == set(range(100, 110))
    assert kryball.overrides[0] == "experiment=fig5_3_xor"
    assert "5 seeds: expensive (kryball, kryball_plus)" in protocol.describe(MNIST1D.setting, quick=False)
    overridden = protocol.plan(["comparison"], tmp_path, quick=False, seeds=2, only=["comparison_mnist1d"]).specs
    assert {s.seed for s in overridden} == {100, 101}  # --seeds overrides every cell's count
    assert "expensive" not in protocol.describe(MNIST1D.setting, quick=False, seeds=2)


def test_the_thesis_targets_keep_the_thesis_protocol(tmp_path):
    specs = protocol.plan(["xor"], tmp_path, quick=False, sweeps_dir=tmp_path / "no_sweeps").specs
    assert len(specs) == 4 * 5 and {s.setting.name for s in specs} == {"xor"}


def test_a_cell_reads_its_tuned_config_from_its_protocols_folder(tmp_path):
    (tmp_path / "robust").mkdir()
    (tmp_path / "robust" / "xor_adam.yaml").write_text("# @package _global_\n")
    (tmp_path / "xor_adam.yaml").write_text("# @package _global_\n")
    xor = next(w for w in WORKLOADS if w.setting.name == "comparison_xor").setting
    assert protocol.tuned_name(xor, "adam", tmp_path) == "xor_adam"
    moved = dataclasses.replace(xor, tuned_from="robust")
    assert protocol.tuned_name(moved, "adam", tmp_path) == "robust/xor_adam"
    assert protocol.tuned_name(moved, "msgd", tmp_path) is None  # untuned, never refused
    assert protocol.tuned_name(chapter5.SADDLE, "adam", tmp_path) is None  # defaults by design


def times(cells: dict) -> pd.DataFrame:
    """One run per (task, optimiser) with the given wall-clock to target (INF: never)."""
    return pd.DataFrame([{"task": task, "optimiser": optim, "wall_time_s": t, "grad_eq": t, "epoch": t}
                         for (task, optim), t in cells.items()])


# r: task a: x 1, y 2, z ∞; task b: x 2, y 1, z 1.5; task c: no one reached the target.
EXAMPLE = times({("a", "x"): 1.0, ("a", "y"): 2.0, ("a", "z"): INF, ("b", "x"): 4.0, ("b", "y"): 2.0,
                 ("b", "z"): 3.0, ("c", "x"): INF, ("c", "y"): INF, ("c", "z"): INF})


def test_performance_ratios_and_the_profile_on_a_hand_made_example():
    r = profiles.ratios(profiles.task_times(EXAMPLE, "wall_time_s"))
    assert r.loc["a"].tolist() == [1.0, 2.0, INF] and r.loc["b"].tolist() == [2.0, 1.0, 1.5]
    assert r.loc["c"].tolist() == [INF, INF, INF]
    rho = profiles.rho(r, [1.0, 1.5, 2.0, 100.0])
    assert rho["x"].tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert rho["y"].tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert rho["z"].tolist() == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3])
    # AlgoPerf's score: the mean over tasks of (4 − r)⁺ / 3.
    assert profiles.score(r).tolist() == pytest.approx([(3 + 2) / 9, (2 + 3) / 9, 2.5 / 9])


def test_an_optimiser_that_did_not_run_on_a_task_counts_as_never_reaching_its_target():
    only_a = pd.concat([EXAMPLE, times({("a", "w"): 0.5})], ignore_index=True)
    r = profiles.ratios(profiles.task_times(only_a, "wall_time_s"))
    assert r.loc["a", "w"] == 1.0 and r.loc["a", "x"] == 2.0  # w is now the fastest on a
    assert math.isnan(r.loc["b", "w"])
    assert profiles.rho(r, [1e9])["w"].tolist() == [1 / 3]
    assert profiles.score(r)["w"] == pytest.approx(1 / 3)
    assert profiles.ratios_table(only_a).set_index(profiles.ratios_table(only_a).columns[0]).loc["b", "w"] == "not run"


def test_xors_one_evaluation_lbfgs_is_the_profiles_lbfgs():
    t = profiles.task_times(times({("a", "lbfgs"): 1.0, ("b", "lbfgs_single"): 2.0, ("b", "adam"): 1.0}), "epoch")
    assert list(t.columns) == ["lbfgs", "adam"] and t.loc["b", "lbfgs"] == 2.0


def test_the_profile_figure_is_drawn(tmp_path):
    path = profiles.figure(EXAMPLE, tmp_path / "profile.png")
    assert path.stat().st_size > 10_000


def test_a_tiny_comparison_end_to_end(tmp_path, one_thread, capsys):
    cells = ["comparison_xor/adam", "comparison_xor/kryball", "comparison_mnist1d/adam", "comparison_mnist1d/msgd"]
    argv = ["comparison", "--quick", "--seeds", "1", "--out", str(tmp_path), *(f"--only={c}" for c in cells)]
    assert reproduce.main(argv) == 0
    written = {p.name for p in tmp_path.iterdir()}
    assert {"comparison.quick.md", "time_to_target.quick.md", "time_to_target.quick.csv",
            "performance_profile.quick.png", "performance_profile.quick.csv", "fig_time_to_target.quick.png"} <= written
    final = (tmp_path / "comparison.quick.md").read_text()
    assert "quick (CPU-sized; not the comparison protocol)" in final and "(n = 1)" in final
    assert "95 % CI of the median" in final and "MNIST-1D MLP: 1 seed from seed 100 × 20 epochs" in final
    runs = pd.read_csv(tmp_path / "time_to_target.quick.csv")
    assert sorted(zip(runs["setting"], runs["optimiser"])) == sorted(tuple(c.split("/")) for c in cells)
    xor = runs[runs["setting"] == "comparison_xor"]
    assert (xor["reached"] == (xor["epoch"] < INF)).all()
    report = (tmp_path / "time_to_target.quick.md").read_text()
    assert "converged (the task's criterion)" in report and "median final" in report  # both kinds of target
    profile = pd.read_csv(tmp_path / "performance_profile.quick.csv")
    assert set(profile["measure"]) == {"wall-clock (s)", "gradient-equivalents", "epochs"}
    assert (profile["ratio r"].dropna() >= 1).all()
