"""KryBall+'s candidate defaults scored on the self-tuning track (suite/commands/levers.py): a lever's KryBall+ runs
take the shipped one's place among the other optimisers' times, and its B and ratios follow."""

import argparse
import math

import pandas as pd
import pytest

from suite.commands import comparison_track, levers
from suite.records import GRAD_EQ
from suite.reproduction import run_plan
from suite.reproduction.comparison_settings import SELF_TUNING, TUNED
from suite.reproduction.targets import TIME_COLUMNS


def times(rows):
    """(task, optimiser, seeds' wall-clock to target; ∞ for not reached) → a times table as the track has it."""
    frame = [{"setting": f"self_tuning_{task}", "task": task, "optimiser": optim, "seed": 100 + i, "status": "completed",
              "reached": math.isfinite(t), "wall_time_s": t, GRAD_EQ: t * 10, "epoch": t}
             for task, optim, seconds in rows for i, t in enumerate(seconds)]
    return pd.DataFrame(frame).reindex(columns=TIME_COLUMNS)


def test_a_lever_is_scored_in_the_place_of_the_shipped_kryball_plus():
    others = times([("a", "adam", [2.0, 2.0, 3.0]), ("b", "adam", [math.inf] * 3), ("b", "lbfgs", [1.0, 1.0, 1.0])])
    fast = times([("a", "kryball_plus", [1.0, 1.0, 9.0]), ("b", "kryball_plus", [2.0, 2.0, math.inf])])
    table, b = levers.scores(others, fast)
    by = table.set_index("workload")
    assert by.loc["a", "KryBall+ (s)"] == 1.0 and by.loc["a", "fastest other"] == "adam"
    assert by.loc["a", "ratio r"] == 1.0 and by.loc["b", "ratio r"] == 2.0 and by.loc["b", "reached"] == "2/3"
    assert b == pytest.approx(((4 - 1) / 3 + (4 - 2) / 3) / 2)  # AlgoPerf's B: mean of (r_max − r)/(r_max − 1)
    twice = fast.assign(**{GRAD_EQ: fast[GRAD_EQ] * 2})  # twice the gradients in the same seconds
    by_gradients = levers.scores(others, twice, GRAD_EQ)[0].set_index("workload")
    assert by_gradients.loc["b", "ratio r"] == 4.0 and levers.scores(others, twice)[0].equals(table)
    slow = times([("a", "kryball_plus", [math.inf] * 3), ("b", "kryball_plus", [math.inf] * 3)])
    assert levers.scores(others, slow)[1] == 0.0


def test_run_needs_a_lever(capsys):
    with pytest.raises(SystemExit):
        levers.main(["run"])
    assert "run needs a lever" in capsys.readouterr().err


def test_the_report_scores_the_levers_against_the_shipped_kryball_plus_re_run_beside_them(tmp_path, monkeypatch):
    """With a re-run of the shipped KryBall+ (``run shipped``), it is the ``shipped`` row and stands in where a lever
    changes nothing; the other optimisers' times stay the track's."""
    mnist1d, wave = (SELF_TUNING.workload(task).label for task in ("mnist1d", "pinn_wave"))
    committed = times([(mnist1d, "kryball_plus", [5.0] * 3), (wave, "kryball_plus", [9.0] * 3),
                       (mnist1d, "adam", [4.0] * 3), (wave, "adam", [8.0] * 3)])
    runs = {"shipped": times([(mnist1d, "kryball_plus", [6.0] * 3), (wave, "kryball_plus", [7.0] * 3)]),
            "hessian": times([(wave, "kryball_plus", [2.0] * 3)])}
    monkeypatch.setattr(levers.per_run, "load", lambda track, folder: argparse.Namespace(times=committed))
    monkeypatch.setattr(levers, "lever_times", lambda lever, out, quick: runs.get(lever))
    assert levers.main(["report", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "levers.md").read_text()
    shipped, hessian = (report.split(f"### {name}:")[1].split("###")[0] for name in ("shipped", "hessian"))
    assert f"| {mnist1d} " in shipped and "|              6 |" in shipped and "|              7 |" in shipped
    # The Hessian lever changes the wave only: MNIST-1D is the re-run's 6 s, not the committed 5 s.
    assert "|              2 |" in hessian and "|              6 |" in hessian and "|  5 " not in hessian


def test_a_levers_target_comes_from_the_protocols_runs_not_the_levers_variant(tmp_path, monkeypatch):
    """The self-tuning track's MNIST-1D target is set by the tuned track's runs: planned with the common overrides
    but never with a lever's --set, whose config those runs do not have (they would not be found)."""
    planned = []  # the common overrides of each plan made

    def plan(targets, out, quick, seeds, common, **kwargs):
        planned.append(common)
        return run_plan.Plan([], {}, tmp_path)

    monkeypatch.setattr(run_plan, "plan", plan)
    args = argparse.Namespace(results_dir=tmp_path / "results", out=tmp_path / "out", quick=False, seeds=None,
                              overrides=["optim.krylov_tol=0.2"])
    sources = comparison_track.sources_from(args, TUNED, "mnist1d", lambda: None,
                                            ["device=auto", "threads=1", "optim.krylov_tol=0.2"])
    what, runs = sources[1]
    assert "tuned track's runs under" in what
    runs()
    assert planned == [["device=auto", "threads=1"]]


def test_the_hessian_lever_changes_the_least_squares_workloads_only():
    lever = levers.LEVERS["hessian"]
    changed = {w.task for w in SELF_TUNING.workloads if lever.changes(w)}
    assert changed == {"rahimi_recht_k10", "rahimi_recht_k1e5", "pinn_convection", "pinn_reaction", "pinn_wave",
                       "image_fit", "image_fit_minibatch"}
    assert all(levers.LEVERS["adaptive_krylov"].changes(w) for w in SELF_TUNING.workloads)
    # Scored with the shipped KryBall+'s runs where it changes nothing.
    mnist1d, wave = (SELF_TUNING.workload(task).label for task in ("mnist1d", "pinn_wave"))
    shipped = times([(mnist1d, "kryball_plus", [5.0] * 3), (wave, "kryball_plus", [math.inf] * 3)])
    mine = times([(wave, "kryball_plus", [3.0] * 3)])
    combined, unchanged = levers.where_changed(lever, mine, shipped)
    assert mnist1d in unchanged and wave not in unchanged
    assert sorted(zip(combined["task"], combined["wall_time_s"])) == sorted([(mnist1d, 5.0)] * 3 + [(wave, 3.0)] * 3)
