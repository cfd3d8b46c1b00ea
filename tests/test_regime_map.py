"""The map of where KryBall+ stands (``scripts/reproduce.py map``; suite/reproduction/map_settings.py, regime_map.py,
suite/commands/map_target.py): its plans on both tracks (the tracks' settings and runs reused, its own settings for
the new regimes, budgets and seeds), its cells from synthetic times (a ratio, ∞, only KryBall+, none reached,
not run), the heat-map and table, and a tiny end-to-end run rebuilt from its per-run results."""

import argparse
import math

import pandas as pd
import pytest

from suite.commands import map_target, reproduce
from suite.reproduction import regime_map, run_plan, targets
from suite.reproduction.comparison_settings import EPOCH_CAP, SELF_TUNING, TUNED
from suite.reproduction.map_settings import (FAMILIES, NEW_WORKLOADS, SELF_TUNING_MAP, SUBJECT, TUNED_MAP,
                                             MNIST1D_BATCH, CONDITION, PHYSICS_INFORMED, IMAGE_FITTING)

INF = math.inf


def args_for(out, quick=False, seeds=None, only=()):
    return argparse.Namespace(out=out, quick=quick, seeds=seeds, only=list(only))


def specs_by_cell(specs) -> dict:
    cells = {}
    for spec in specs:
        cells.setdefault((spec.setting.name, spec.optim), []).append(spec)
    return cells


@pytest.mark.parametrize("quick", [False, True])
def test_the_self_tuning_map_runs_the_tracks_own_runs_and_its_new_regimes_beside_them(tmp_path, quick):
    common = ["device=cpu", "threads=1"]
    mine = map_target.plan(SELF_TUNING_MAP, args_for(tmp_path, quick), common)
    track = {(s.run_dir, s.overrides) for s in run_plan.plan(["comparison"], tmp_path, quick, None, common,
                                                             track="self_tuning").specs}
    new = {w.setting.name for w in NEW_WORKLOADS}
    assert new == {"self_tuning_mnist1d_batch128", "self_tuning_mnist1d_batch3600", "self_tuning_rahimi_recht_k1e3",
                   "self_tuning_rahimi_recht_k1e7"}
    reused = [s for s in mine if s.setting.name not in new]
    assert reused and {(s.run_dir, s.overrides) for s in reused} <= track  # the very runs: shared, never run twice
    cells = specs_by_cell(mine)
    for (name, optim), specs in cells.items():
        seeds = [s.seed for s in specs]
        if quick:
            assert seeds == [100]
        elif name.startswith(("self_tuning_pinn", "self_tuning_image_fit")):
            assert seeds == [100, 101, 102]  # the tracks' 3 there
        else:
            assert seeds == [100, 101, 102, 103, 104]  # 5, first-order cells too (the track's first five of 10)
    budget = {"self_tuning_mnist1d_batch128": 30.0, "self_tuning_mnist1d_batch3600": 30.0,
              "self_tuning_rahimi_recht_k1e3": 10.0, "self_tuning_rahimi_recht_k1e7": 10.0}
    for name, seconds in budget.items():
        spec = cells[(name, SUBJECT)][0]
        assert f"time_budget_s={seconds / 5 if quick else seconds}" in spec.overrides
        assert f"epochs={EPOCH_CAP}" in spec.overrides and spec.tuned is None
    assert "task.batch_size=3600" in cells[("self_tuning_mnist1d_batch3600", "lbfgs")][0].overrides
    assert ("self_tuning_mnist1d_batch128", "lbfgs") not in cells  # full batch only
    assert "task.condition_number=10000000.0" in cells[("self_tuning_rahimi_recht_k1e7", "adam")][0].overrides
    assert ("self_tuning_rahimi_recht_k10", "muon") not in cells  # no hidden weight matrix
    assert {optim for name, optim in cells if name == "self_tuning_pinn_wave"} >= {"adam_then_lbfgs",
                                                                                   "adam_then_kryball_plus", "muon"}
    assert len({(r.family, r.value) for r in SELF_TUNING_MAP.regimes}) == sum(len(v) for v in FAMILIES.values())


def test_the_tuned_map_covers_the_tracks_regimes_and_runs_the_tracks_cells(tmp_path):
    mine = map_target.plan(TUNED_MAP, args_for(tmp_path), [])
    track = {(s.run_dir, s.overrides) for s in run_plan.plan(["comparison"], tmp_path, False, track="tuned").specs}
    assert {(s.run_dir, s.overrides) for s in mine} <= track
    assert {s.setting.name for s in mine} == {"comparison_mnist1d", "comparison_rahimi_recht_k10",
                                              "comparison_rahimi_recht_k1e5", "comparison_pinn_convection",
                                              "comparison_pinn_reaction", "comparison_pinn_wave",
                                              "comparison_image_fit", "comparison_image_fit_minibatch"}
    cells = specs_by_cell(mine)
    assert cells[("comparison_mnist1d", "adam")][0].tuned == "mnist1d_adam"  # the tuned configs
    assert [s.seed for s in cells[("comparison_mnist1d", "adam")]] == [100, 101, 102, 103, 104]
    assert TUNED_MAP.regime(MNIST1D_BATCH, "128") is None and "no tuned configs" in TUNED_MAP.not_run
    assert map_target.maps_of(argparse.Namespace(track=None))[0] is TUNED_MAP  # first: the self-tuning target


def times(rows) -> pd.DataFrame:
    """One run per (setting, optimiser, wall-clock to target), as targets.run_times gives them."""
    return pd.DataFrame([{"setting": setting, "optimiser": optim, "seed": 100 + i, "wall_time_s": t, "reached":
                          math.isfinite(t), "tuned": tuned}
                         for setting, optim, values, tuned in rows for i, t in enumerate(values)],
                        columns=[*targets.TIME_COLUMNS])


def regime(family, value):
    return SELF_TUNING_MAP.regime(family, value).name


SYNTHETIC = times([
    (regime(MNIST1D_BATCH, "128"), SUBJECT, [4.0, 6.0, INF], None),  # low median 6
    (regime(MNIST1D_BATCH, "128"), "adam", [2.0, 3.0, 4.0], None),  # 3: the best other
    (regime(MNIST1D_BATCH, "128"), "msgd", [1.0, INF, INF], None),  # low median ∞: not the best
    (regime(CONDITION, "10"), SUBJECT, [INF, INF], None),  # never: ∞
    (regime(CONDITION, "10"), "lbfgs", [0.1, 0.2], None),
    (regime(CONDITION, "1e7"), SUBJECT, [5.0], None),  # only KryBall+
    (regime(CONDITION, "1e7"), "adam", [INF], None),
    (regime(PHYSICS_INFORMED, "convection"), SUBJECT, [INF], None),  # none reached
    (regime(PHYSICS_INFORMED, "convection"), "adam_then_lbfgs", [INF], None),
    (regime(IMAGE_FITTING, "full batch"), "adam", [1.0], None),  # no KryBall+ run: not run
])


def test_each_cell_compares_kryball_plus_with_the_best_other_optimiser():
    frame = regime_map.cells(SELF_TUNING_MAP, [], SYNTHETIC).set_index(["family", "value"])
    mnist = frame.loc[(MNIST1D_BATCH, "128")]
    assert (mnist["subject_time"], mnist["best"], mnist["best_time"], mnist["ratio"]) == (6.0, "adam", 3.0, 2.0)
    assert (mnist["subject_reached"], mnist["best_reached"]) == ("2/3", "3/3")
    assert pd.isna(mnist["best_tuned"])  # the self-tuning track: no cell is tuned, none is marked
    assert (mnist["subject_low"], mnist["subject_high"]) == (4.0, INF)  # 3 seeds: [min, max], ∞ included
    assert frame.loc[(CONDITION, "10"), "ratio"] == INF and frame.loc[(CONDITION, "10"), "best"] == "lbfgs"
    assert frame.loc[(CONDITION, "1e7"), "state"] == regime_map.ONLY_SUBJECT
    assert frame.loc[(CONDITION, "1e7"), "ratio"] == 0.0
    assert frame.loc[(PHYSICS_INFORMED, "convection"), "state"] == regime_map.NONE_REACHED
    assert frame.loc[(IMAGE_FITTING, "full batch"), "state"] == regime_map.NOT_RUN
    assert frame.loc[(CONDITION, "1e5"), "state"] == regime_map.NOT_RUN  # no runs at all
    shown = regime_map.table(frame.reset_index()).set_index(["regime", "value"])
    ratio = f"ratio {regime_map.label(SUBJECT)} / best other"
    assert shown.loc[(MNIST1D_BATCH, "128"), ratio] == "2×" and shown.loc[(CONDITION, "10"), ratio] == "∞"
    assert shown.loc[(CONDITION, "1e7"), ratio] == "only KryBall+" and shown.loc[(IMAGE_FITTING, "full batch"),
                                                                                  ratio] == "not run"
    assert shown.loc[(MNIST1D_BATCH, "128"), "best other optimiser"] == "Adam"
    _, mine, _, theirs, _ = shown.loc[(MNIST1D_BATCH, "128")]
    assert (mine, theirs) == ("6 [4–∞] (75 % coverage), 2/3 reached", "3 [2–4] (75 % coverage), 3/3 reached")


def test_on_the_tuned_map_an_untuned_best_other_optimiser_is_marked():
    rows = times([("comparison_rahimi_recht_k10", SUBJECT, [2.0], "rahimi_recht_k10_kryball_plus"),
                  ("comparison_rahimi_recht_k10", "prodigy", [1.0], None)])
    frame = regime_map.cells(TUNED_MAP, [], rows).set_index(["family", "value"])
    row = frame.loc[(CONDITION, "10")]
    assert not row["best_tuned"] and regime_map.best_text(row) == "Prodigy (untuned)"
    assert frame.loc[(MNIST1D_BATCH, "128"), "state"] == regime_map.NOT_RUN  # not on the tuned track


def test_the_heat_map_and_the_table_are_written(tmp_path):
    written = regime_map.write(SELF_TUNING_MAP, [], SYNTHETIC, regime_map.Records(), tmp_path, ".self_tuning",
                               ["Protocol: a test."])
    assert {p.name for p in written} == {"map.self_tuning.png", "map.self_tuning.md", "map.self_tuning.csv",
                                         "map.self_tuning.runs.csv"}
    assert (tmp_path / "map.self_tuning.png").stat().st_size > 20_000
    report = (tmp_path / "map.self_tuning.md").read_text()
    assert "Protocol: a test." in report and "| physics-informed     | convection" in report
    assert "none reached" in report and "Compared with KryBall+ — MNIST-1D, batch size 128: KryBall, Adam" in report
    assert len(pd.read_csv(tmp_path / "map.self_tuning.csv")) == sum(len(v) for v in FAMILIES.values())


def test_the_map_takes_the_comparisons_options_but_write_docs(capsys):
    assert reproduce.parse_args(["map"]).track is None  # both tracks
    assert reproduce.parse_args(["map", "--track", "tuned"]).track == "tuned"
    assert reproduce.parse_args(["map", "--only", "self_tuning_rahimi_recht_k1e7/lbfgs"]).only
    with pytest.raises(SystemExit):
        reproduce.parse_args(["map", "--publish", "--quick"])
    assert "--publish writes a track's committed results" in capsys.readouterr().err


def markdown_tables(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("|")]


def test_a_tiny_map_end_to_end_on_both_tracks_rebuilt_from_its_per_run_results(tmp_path, one_thread):
    out = tmp_path / "out"
    cells = ["self_tuning_rahimi_recht_k1e3/kryball_plus", "self_tuning_rahimi_recht_k1e3/lbfgs",
             "self_tuning_mnist1d_batch128/kryball_plus", "self_tuning_mnist1d_batch128/adam",
             "comparison_rahimi_recht_k10/kryball_plus", "comparison_rahimi_recht_k10/lbfgs"]
    assert reproduce.main(["map", "--quick", "--out", str(out), *(f"--only={c}" for c in cells)]) == 0
    for track in ("tuned", "self_tuning"):
        assert (out / f"map.{track}.quick.png").stat().st_size > 20_000
    report = (out / "map.self_tuning.quick.md").read_text()
    assert "MNIST-1D MLP, batch 128: 1 seed from seed 100 × 6 s of training" in report
    assert "Target of MNIST-1D MLP, batch 128: validation accuracy ≥" in report  # from its own first-order runs
    frame = pd.read_csv(out / "map.self_tuning.quick.csv").set_index(["family", "value"])
    assert frame.loc[(CONDITION, "1e3"), "best"] == "lbfgs" and frame.loc[(CONDITION, "1e3"), "state"] == "ratio"
    assert frame.loc[(CONDITION, "1e5"), "state"] == "not run"
    tuned = pd.read_csv(out / "map.tuned.quick.csv").set_index(["family", "value"])
    assert tuned.loc[(CONDITION, "10"), "subject_reached"] == "1/1" and "no tuned configs" in (
        out / "map.tuned.quick.md").read_text()
    # Rebuilt from the per-run results alone: the same tables.
    rebuilt = tmp_path / "rebuilt"
    assert reproduce.main(["map", "--quick", "--from-results", "--results-dir", str(out / "per_run" / "quick"),
                           "--out", str(rebuilt)]) == 0
    for track in ("tuned", "self_tuning"):
        name = f"map.{track}.quick.md"
        assert markdown_tables(rebuilt / name) == markdown_tables(out / name), name
