"""The comparison protocol (``scripts/reproduce.py comparison``): its plans on both tracks (seeds per cell, tuned
configs; the self-tuning track's defaults and wall-clock budgets), performance profiles on a hand-made example
(suite/reproduction/profiles.py), and a tiny end-to-end run of both tracks, rebuilt from its per-run results."""

import dataclasses
import math

import pandas as pd
import pytest

from suite.commands import reproduce
from suite.reproduction import chapter5, docs_block, profiles, run_plan
from suite.reproduction.comparison_settings import (EPOCH_CAP, MNIST1D, SELF_TUNING, SELF_TUNING_BUDGETS_S, TUNED,
                                                    WORKLOADS)

INF = math.inf


def test_the_plan_has_ten_seeds_five_where_expensive_and_its_own_run_folders(tmp_path):
    specs = run_plan.plan(["comparison"], tmp_path, quick=False).specs
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
    assert "5 seeds: expensive (kryball, kryball_plus)" in run_plan.describe(MNIST1D.setting, quick=False)
    overridden = run_plan.plan(["comparison"], tmp_path, quick=False, seeds=2, only=["comparison_mnist1d"]).specs
    assert {s.seed for s in overridden} == {100, 101}  # --seeds overrides every cell's count
    assert "expensive" not in run_plan.describe(MNIST1D.setting, quick=False, seeds=2)


def by_cell(specs) -> dict:
    cells = {}
    for spec in specs:
        cells.setdefault((spec.setting.task, spec.optim), []).append(spec)
    return cells


@pytest.mark.parametrize("quick", [False, True])
def test_the_self_tuning_plan_runs_every_optimiser_at_its_defaults_for_one_budget_per_workload(tmp_path, quick):
    tuned = by_cell(run_plan.plan(["comparison"], tmp_path, quick=quick, track="tuned").specs)
    own = by_cell(run_plan.plan(["comparison"], tmp_path, quick=quick, track="self_tuning").specs)
    assert own.keys() == tuned.keys()  # the same workloads (tasks) and optimisers
    for (task, optim), specs in own.items():
        budget = SELF_TUNING_BUDGETS_S[task][quick]
        for spec in specs:
            assert spec.tuned is None and not any(o.startswith("+tuned=") for o in spec.overrides)
            assert f"time_budget_s={budget}" in spec.overrides and f"epochs={EPOCH_CAP}" in spec.overrides
            assert spec.setting.name == f"self_tuning_{task}" and spec.run_dir.parts[-3] == f"self_tuning_{task}"
            assert spec.sweep_command is None  # defaults by design, not "untuned"
        if not quick:  # the tuned track's seeds: 10 from 100, 5 where expensive
            assert [s.seed for s in specs] == [s.seed for s in tuned[(task, optim)]]
    kryball_plus = own[("mnist1d", "kryball_plus")]
    assert kryball_plus[0].seed == 100 and len(kryball_plus) == (2 if quick else 5)
    assert {s.run_dir for v in own.values() for s in v}.isdisjoint({s.run_dir for v in tuned.values() for s in v})
    assert {w.setting.name for w in SELF_TUNING.workloads}.isdisjoint(w.setting.name for w in TUNED.workloads)


BEYOND_THESIS = ("pinn_convection", "pinn_reaction", "pinn_wave", "image_fit", "image_fit_minibatch")
PHASED = {"adam_then_lbfgs", "adam_then_kryball", "adam_then_kryball_plus", "adam_then_trust_krylov"}


@pytest.mark.parametrize("quick", [False, True])
def test_the_tasks_beyond_the_thesis_run_untuned_for_their_epoch_budget_capped_on_the_tuned_track(tmp_path, quick):
    cells = by_cell(run_plan.plan(["comparison"], tmp_path, quick=quick, track="tuned",
                                  only=[f"comparison_{task}" for task in BEYOND_THESIS]).specs)
    optimisers = {task: {optim for t, optim in cells if t == task} for task in BEYOND_THESIS}
    assert len(optimisers["pinn_wave"]) == 18 and PHASED <= optimisers["pinn_wave"]  # the specs say who runs
    assert optimisers["image_fit"] == optimisers["pinn_wave"] - PHASED
    assert optimisers["image_fit_minibatch"] == optimisers["image_fit"] - {"lbfgs", "trust_krylov"}
    epochs = {"pinn_convection": 500, "pinn_reaction": 500, "pinn_wave": 400, "image_fit": 200,
              "image_fit_minibatch": 200}
    for (task, optim), specs in cells.items():
        assert [s.seed for s in specs] == ([100] if quick else [100, 101, 102])
        for spec in specs:
            assert spec.tuned is None and spec.sweep_command == f"python scripts/sweep.py sweeps/{task}/{optim}.yaml"
            assert f"time_budget_s={40.0 if quick else 200.0}" in spec.overrides
            if quick:  # a fifth of the epochs, and of the phased optimisers' first phase (half the budget)
                assert {f"epochs={epochs[task] // 5}", f"first_phase_steps={epochs[task] // 10}"} <= set(spec.overrides)
            else:  # the task's own epochs and switch
                assert not any(o.startswith(("epochs=", "first_phase_steps=")) for o in spec.overrides)
    assert cells[("image_fit_minibatch", "adam")][0].overrides[:2] == ("task=image_fit", "task.batch_size=512")
    assert run_plan.describe(TUNED.workload("pinn_wave").setting, quick=False) == (
        "physics-informed wave (β = 5): 3 seeds from seed 100 × 400 epochs (the task's budget), at most 200 s of "
        "training (wall-clock, evaluation excluded)")


def test_the_self_tuning_track_gives_the_tasks_beyond_the_thesis_their_budgets_and_three_seeds(tmp_path):
    for quick, seeds in ((False, [100, 101, 102]), (True, [100])):
        cells = by_cell(run_plan.plan(["comparison"], tmp_path, quick=quick, track="self_tuning",
                                      only=["self_tuning_pinn_wave", "self_tuning_image_fit"]).specs)
        for (task, optim), specs in cells.items():
            budget = {"pinn_wave": (30.0, 6.0), "image_fit": (20.0, 4.0)}[task][quick]
            assert [s.seed for s in specs] == seeds
            assert f"time_budget_s={budget}" in specs[0].overrides and specs[0].tuned is None
        assert PHASED <= {optim for task, optim in cells if task == "pinn_wave"}


def test_every_self_tuning_budget_is_declared_and_quick_is_shorter():
    assert set(SELF_TUNING_BUDGETS_S) == {w.task for w in TUNED.workloads}
    assert all(0 < quick < full for full, quick in SELF_TUNING_BUDGETS_S.values())
    mnist1d = next(w for w in SELF_TUNING.workloads if w.task == "mnist1d").setting
    assert run_plan.describe(mnist1d, quick=False).startswith(
        "MNIST-1D MLP: 10 seeds from seed 100 × 30 s of training (wall-clock, evaluation excluded")


@pytest.mark.parametrize("argv, message", [
    (["xor", "--track", "self_tuning"], "--track: for the comparison and map targets only"),
    (["map", "--write-docs"], "--write-docs: for the comparison target only"),
    (["comparison", "--publish", "--quick"], "--publish writes a track's committed results"),
    (["comparison", "--publish", "--only", "comparison_xor/adam"], "--publish writes a track's committed results"),
    (["comparison", "--from-results", "--seeds", "2"], "--from-results runs nothing"),
    (["comparison", "--write-docs"], "--write-docs and --docs go with --from-results"),
    (["comparison", "--track", "selftuning"], "invalid choice: 'selftuning'"),
])
def test_the_comparisons_options_are_refused_where_they_do_not_apply(argv, message, capsys):
    with pytest.raises(SystemExit) as error:
        reproduce.parse_args(argv)
    assert error.value.code == 2 and message in capsys.readouterr().err


def test_a_whole_workload_may_be_published_alone():
    """--only of whole settings keeps every cell of each, so its workloads' results are the full protocol."""
    args = reproduce.parse_args(["comparison", "--publish", "--only", "comparison_xor"])
    assert args.publish and args.only == ["comparison_xor"]


def test_the_thesis_targets_keep_the_thesis_protocol(tmp_path):
    specs = run_plan.plan(["xor"], tmp_path, quick=False, sweeps_dir=tmp_path / "no_sweeps").specs
    assert len(specs) == 4 * 5 and {s.setting.name for s in specs} == {"xor"}


def test_a_cell_reads_its_tuned_config_from_its_protocols_folder(tmp_path):
    (tmp_path / "robust").mkdir()
    (tmp_path / "robust" / "xor_adam.yaml").write_text("# @package _global_\n")
    (tmp_path / "xor_adam.yaml").write_text("# @package _global_\n")
    xor = next(w for w in WORKLOADS if w.setting.name == "comparison_xor").setting
    assert run_plan.tuned_name(xor, "adam", tmp_path) == "xor_adam"
    moved = dataclasses.replace(xor, tuned_from="robust")
    assert run_plan.tuned_name(moved, "adam", tmp_path) == "robust/xor_adam"
    assert run_plan.tuned_name(moved, "msgd", tmp_path) is None  # untuned, never refused
    assert run_plan.tuned_name(chapter5.SADDLE, "adam", tmp_path) is None  # defaults by design


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


def markdown_tables(path) -> list[str]:
    """The table lines of a Markdown report (its header lines say when and where it was made)."""
    return [line for line in path.read_text().splitlines() if line.startswith("|")]


def test_a_tiny_comparison_end_to_end_on_both_tracks_rebuilt_from_its_per_run_results(tmp_path, one_thread):
    out = tmp_path / "out"
    cells = ["comparison_xor/adam", "comparison_xor/kryball", "comparison_mnist1d/adam", "comparison_mnist1d/msgd"]
    argv = ["comparison", "--quick", "--seeds", "1", "--out", str(out), *(f"--only={c}" for c in cells)]
    assert reproduce.main(argv) == 0
    written = {p.name for p in out.iterdir()}
    assert {"comparison.tuned.quick.md", "time_to_target.tuned.quick.md", "time_to_target.tuned.quick.csv",
            "performance_profile.tuned.quick.png", "performance_profile.tuned.quick.csv",
            "fig_time_to_target.tuned.quick.png"} <= written
    final = (out / "comparison.tuned.quick.md").read_text()
    assert "quick (CPU-sized; not the comparison protocol, tuned track)" in final and "(n = 1)" in final
    assert "95 % CI of the median" in final and "MNIST-1D MLP: 1 seed from seed 100 × 20 epochs" in final
    runs = pd.read_csv(out / "time_to_target.tuned.quick.csv")
    assert sorted(zip(runs["setting"], runs["optimiser"])) == sorted(tuple(c.split("/")) for c in cells)
    xor = runs[runs["setting"] == "comparison_xor"]
    assert (xor["reached"] == (xor["epoch"] < INF)).all()
    report = (out / "time_to_target.tuned.quick.md").read_text()
    assert "converged (the task's criterion)" in report and "median final" in report  # both kinds of target
    assert "s, 32 runs" in report and "including tuning" in report  # what the tuned cells' sweeps cost
    profile = pd.read_csv(out / "performance_profile.tuned.quick.csv")
    assert set(profile["measure"]) == {"wall-clock (s)", "gradient-equivalents", "epochs"}
    assert (profile["ratio r"].dropna() >= 1).all()

    # The self-tuning track, beside it: its own settings and files; MNIST-1D's target is the tuned track's, from its
    # runs under --out (a --results-dir without committed results: the repository's would come first).
    own = ["self_tuning_xor/adam", "self_tuning_xor/kryball", "self_tuning_mnist1d/adam"]
    assert reproduce.main(["comparison", "--track", "self_tuning", "--quick", "--seeds", "1", "--out", str(out),
                           "--results-dir", str(tmp_path / "nothing_committed"), *(f"--only={c}" for c in own)]) == 0
    targets = (out / "time_to_target.self_tuning.quick.md").read_text()
    assert "from the tuned track's runs under" in targets and "0.4 s of training" in targets
    assert "defaults, by design" in (out / "comparison.self_tuning.quick.md").read_text()
    assert "tuning" not in markdown_tables(out / "time_to_target.self_tuning.quick.md")[0]

    # Rebuilt from the per-run results alone (no runs, no metrics.csv): the same tables, and the figures.
    results = out / "per_run" / "quick"
    for track in ("tuned", "self_tuning"):
        rebuilt = tmp_path / f"rebuilt_{track}"
        doc = tmp_path / "results.md"
        doc.write_text(f"# Results\n\n{docs_block.begin(track)}\nstale\n{docs_block.end(track)}\nafter\n")
        assert reproduce.main(["comparison", "--track", track, "--quick", "--from-results", "--results-dir",
                               str(results), "--out", str(rebuilt), "--write-docs", "--docs", str(doc)]) == 0
        for stem in ("comparison", "time_to_target"):
            name = f"{stem}.{track}.quick.md"
            assert markdown_tables(rebuilt / name) == markdown_tables(out / name), name
        name = f"performance_profile.{track}.quick.csv"
        assert (rebuilt / name).read_text() == (out / name).read_text()
        assert (rebuilt / f"fig_time_to_target.{track}.quick.png").stat().st_size > 10_000
        block = docs_block.read(track, doc)
        assert "stale" not in block and doc.read_text().endswith(f"{docs_block.end(track)}\nafter\n")
        lines = block.splitlines()
        assert set(markdown_tables(out / f"comparison.{track}.quick.md")) <= set(lines)  # the final cells
        assert sum(line.startswith("| r = t / fastest t") for line in lines) == 3  # a ratio table per measure
