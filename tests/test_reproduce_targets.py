"""The comparison protocol's statistics on small synthetic records: confidence-interval cells
(suite/reproduction/columns.py, suite/records.py), the target of a workload and the time to reach it
(suite/reproduction/targets.py) — shared by the self-tuning track, within its time budget — and what the
tuned track's cells cost to tune (suite/reproduction/tuning.py)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from suite.records import Records, SeedStats, median_interval, summary_row
from suite.optimisers import presentation
from suite.reproduction import targets, tuning
from suite.reproduction.columns import interval, mean_ci
from suite.reproduction.comparison_settings import (MNIST1D, SELF_TUNING, TUNED, WORKLOADS, Criterion, Threshold,
                                                    Workload)
from suite.run_record import RunSummary

XOR = next(w for w in WORKLOADS if w.setting.name == "comparison_xor")
INF = math.inf


def test_mean_with_a_students_t_interval_and_the_seed_count():
    # mean 2, std 1, t(0.975, 2) = 4.303: half-width 4.303 / √3 = 2.48
    assert mean_ci(SeedStats.of([1.0, 2.0, 3.0])) == "2 ± 2.5 (n = 3)"
    assert mean_ci(SeedStats.of([0.653])) == "0.653 (n = 1)"
    assert mean_ci(SeedStats.of([None, math.nan])) == "—"


@pytest.mark.parametrize("values, text", [
    (range(1, 11), "[2–9]"),  # 10 seeds: the 2nd and 9th order statistics, 97.9 % coverage
    ([1, 2, 3, INF, INF, INF, 5, 6, 7, 8], "[2–∞]"),  # too few converged to bound the median from above
    ([3, 1, 2, 5, 4], "[1–5] (93.8 % coverage)"),  # 5 seeds cannot give 95 %: say what they give
    ([], "—"),
])
def test_the_median_interval_of_censored_values(values, text):
    assert interval(*median_interval(values)) == text


def test_the_median_interval_is_the_narrowest_with_95_percent_coverage_from_six_seeds_on():
    for n in range(6, 40):
        low, high, coverage = median_interval(np.arange(n, dtype=float))
        assert coverage >= 0.95 and low <= np.median(np.arange(n)) <= high
        j = int(low) + 1  # values 0 … n−1: the j-th order statistic is j − 1
        assert 1 - 2 * binom.cdf(j, n, 0.5) < 0.95  # one order statistic further in would not do
    assert median_interval(np.arange(20.0))[:2] == (5.0, 14.0)  # the textbook pair for n = 20


def test_optimiser_families_are_data():
    assert presentation.family("adam") is presentation.family("msgd") is presentation.Family.FIRST_ORDER
    assert presentation.family("kryball_plus") is presentation.Family.SECOND_ORDER
    assert presentation.family("zz_unknown") is None  # never a baseline until declared


def write_curve(folder, accuracies, seconds_per_epoch=1.0, hvps_per_epoch=0, validation=True):
    """A run directory whose metrics.csv has one row per accuracy (validation and test alike)."""
    folder.mkdir(parents=True)
    epochs = np.arange(1, len(accuracies) + 1)
    frame = pd.DataFrame({"epoch": epochs, "train_loss": 1.0 / epochs, "test_loss": 1.0 / epochs,
                          "test_acc": accuracies, "wall_time_s": seconds_per_epoch * epochs,
                          "gradient_evals": 10 * epochs, "hvps": hvps_per_epoch * epochs, "loss_evals": 10 * epochs})
    if validation:
        frame["val_acc"] = accuracies
    frame.to_csv(folder / "metrics.csv", index=False)
    return str(folder)


def classification_runs(root, cells, validation=True, tuned=("msgd",)):
    """``cells``: optimiser -> one accuracy curve per seed; the final accuracy is the curve's last value."""
    rows = []
    for optim, curves in cells.items():
        for seed, curve in enumerate(curves):
            second_order = presentation.family(optim) is presentation.Family.SECOND_ORDER
            run_dir = write_curve(root / optim / f"seed{seed}", curve, validation=validation,
                                  hvps_per_epoch=5 if second_order else 0)
            rows.append({"setting": MNIST1D.setting.name, "optim": optim, "seed": seed, "status": "completed",
                         "tuned": f"mnist1d_{optim}" if optim in tuned else None, "run_dir": run_dir,
                         "final_test_acc": curve[-1], **({"final_val_acc": curve[-1]} if validation else {})})
    return Records(pd.DataFrame(rows))


CELLS = {
    "adam": [[0.3, 0.5], [0.4, 0.6], [0.5, 0.7]],  # median final 0.6
    "msgd": [[0.5, 0.65], [0.66, 0.66], [0.7, 0.9]],  # median final 0.66: the best baseline
    "kryball": [[0.95, 0.95], [0.1, 0.2], [0.2, 0.3]],  # second order: never sets the target
}


def test_the_target_is_the_median_final_validation_accuracy_of_the_best_first_order_baseline(tmp_path):
    target = targets.target_of(classification_runs(tmp_path, CELLS, tuned=("adam", "msgd")), MNIST1D)
    assert (target.baseline, target.value, target.metric) == ("msgd", 0.66, "val_acc")
    assert target.text == "validation accuracy ≥ 0.66"
    assert "median final validation accuracy over 3 seeds" in target.why and "tuned" in target.why


def test_a_tuned_baseline_is_preferred_to_an_untuned_one(tmp_path):
    target = targets.target_of(classification_runs(tmp_path, CELLS, tuned=("adam",)), MNIST1D)
    assert (target.baseline, target.value) == ("adam", 0.6)


def test_without_validation_fields_the_target_falls_back_to_test_accuracy_and_says_so(tmp_path):
    target = targets.target_of(classification_runs(tmp_path, CELLS, validation=False), MNIST1D)
    assert (target.metric, target.value) == ("test_acc", 0.66)
    assert "no validation split in these records" in target.why


def test_no_first_order_baseline_means_no_target(tmp_path):
    target = targets.target_of(classification_runs(tmp_path, {"kryball": CELLS["kryball"]}), MNIST1D)
    assert not target.defined and target.why.startswith("no target")


def test_time_to_target_is_read_at_the_first_epoch_reaching_it_and_is_infinite_otherwise(tmp_path):
    runs = classification_runs(tmp_path, CELLS)
    times = targets.run_times(runs, targets.target_of(runs, MNIST1D)).set_index(["optimiser", "seed"])
    assert times.loc[("msgd", 1), ["epoch", "wall_time_s"]].tolist() == [1, 1.0]  # 0.66 at the first epoch
    assert times.loc[("adam", 2), ["epoch", "grad_eq"]].tolist() == [2, 20]  # 0.7 at the second
    assert times.loc[("msgd", 0), "epoch"] == INF and not times.loc[("msgd", 0), "reached"]  # ends at 0.65
    assert times.loc[("kryball", 0), "grad_eq"] == 10 + 5  # gradients + HVPs until epoch 1
    summary = targets.summary_table(times.reset_index(), [targets.target_of(runs, MNIST1D)]).set_index("optimiser")
    assert summary.loc["msgd", "reached"] == "2/3" and summary.loc["adam", "reached"] == "1/3"
    assert summary.loc["msgd", "epochs, median [min–max]"] == "1 [1–1]"  # low median of 1, 1, ∞
    assert summary.loc["adam", "epochs, median [min–max]"] == "∞ [2–2]"  # one of three: the median is ∞


def test_the_low_median_keeps_the_baseline_that_set_the_target_finite():
    # Ten seeds: exactly five end at or above the median of their final accuracies.
    assert targets.cell_time([3, 1, 2, 4, 5, INF, INF, INF, INF, INF]) == 5
    assert targets.cell_time([1, INF]) == 1 and targets.cell_time([3, 1, 2]) == 2
    assert targets.cell_time([INF, INF, 1]) == INF and math.isnan(targets.cell_time([]))


def test_convergence_targets_use_the_tasks_criterion(tmp_path):
    rows = []
    for seed, epochs in enumerate([4, None]):
        run_dir = write_curve(tmp_path / f"seed{seed}", [0.5] * 6, seconds_per_epoch=0.5, validation=False)
        rows.append({"setting": XOR.setting.name, "optim": "kryball", "seed": seed, "run_dir": run_dir,
                     "status": "converged" if epochs else "completed", "epochs_to_convergence": epochs})
    runs = Records(pd.DataFrame(rows))
    target = targets.target_of(runs, XOR)
    assert target.defined and target.text == "converged (the task's criterion)"
    times = targets.run_times(runs, target)
    assert times["epoch"].tolist() == [4, INF] and times["wall_time_s"].tolist() == [2.0, INF]


def test_failed_runs_are_not_scored(tmp_path):
    runs = classification_runs(tmp_path, {"msgd": CELLS["msgd"]})
    runs.frame.loc[0, "status"] = "failed"
    assert len(targets.run_times(runs, targets.target_of(runs, MNIST1D))) == 2


def test_every_summary_field_is_a_column_even_after_a_run_without_record():
    """So the validation fields are read as soon as suite/run_record.py's RunSummary has them."""
    row = summary_row(RunSummary("mnist1d", "adam", "mlp", 1, "completed", device="cpu", config={"a": 1}), setting="s")
    assert row["device"] == "cpu" and "config" not in row
    newer = {**row, "final_val_acc": 0.6}  # a field this reader does not name
    records = Records.from_rows([summary_row(None, setting="s"), newer], labels=["setting"])
    assert records.stats("final_val_acc").n == 1


# The self-tuning track shares the tuned track's targets (targets.target_from): the first source that sets one.
SELF_MNIST1D = next(w for w in SELF_TUNING.workloads if w.task == "mnist1d")


def test_the_self_tuning_track_takes_the_first_source_that_sets_a_target(tmp_path):
    tuned = classification_runs(tmp_path / "tuned", CELLS, tuned=("adam", "msgd"))
    own = classification_runs(tmp_path / "own", {"adam": [[0.1, 0.2]], "prodigy": [[0.3, 0.4]]}, tuned=())
    called = []

    def source(runs, name):
        return name, lambda: called.append(name) or runs

    target = targets.target_from(SELF_MNIST1D, [source(Records(), "committed"), source(tuned, "tuned runs"),
                                                source(own, "own runs")])
    assert (target.baseline, target.value) == ("msgd", 0.66)  # the tuned track's target, not its own
    assert target.why.endswith("; from tuned runs") and "best tuned first-order baseline" in target.why
    assert target.workload is SELF_MNIST1D and called == ["committed", "tuned runs"]  # own runs never read
    fallback = targets.target_from(SELF_MNIST1D, [source(Records(), "committed"), source(own, "own runs")])
    assert (fallback.baseline, fallback.value) == ("prodigy", 0.4) and "untuned first-order" in fallback.why
    nothing = targets.target_from(SELF_MNIST1D, [source(Records(), "committed")])
    assert not nothing.defined and nothing.why.startswith("no target")
    xor = next(w for w in SELF_TUNING.workloads if w.task == "xor")
    assert targets.target_from(xor, [source(own, "never read")]).defined and called[-1] != "never read"


def test_a_target_reached_only_beyond_the_time_budget_is_not_reached(tmp_path):
    runs = classification_runs(tmp_path, {"msgd": [[0.5, 0.7, 0.9]]})  # 1 s an epoch: 0.7 at 2 s
    target = targets.Target(MNIST1D, 0.7, "val_acc", "msgd")
    assert targets.run_times(runs, target)["wall_time_s"].tolist() == [2.0]
    assert targets.run_times(runs, target, within_s=2.0)["wall_time_s"].tolist() == [2.0]
    late = targets.run_times(runs, target, within_s=1.5)
    assert late["wall_time_s"].tolist() == [INF] and not late["reached"].any()


def write_sweep_results(folder, name, seconds, trials=20, reruns=(3, 3, 3, 3)):
    data = {"search": {"trials": trials}, "duration_s": {"search": 1.0, "reruns": 1.0, "total": seconds},
            "candidates": [{"values": [0.5] * n} for n in reruns]}
    (folder / f"{name}.results.json").write_text(json.dumps(data))


def test_the_tuned_tracks_cells_say_what_their_tuning_cost(tmp_path):
    write_sweep_results(tmp_path, "mnist1d_msgd", 263.0)  # 20 search trials + 12 re-runs
    runs = tuning.with_costs(classification_runs(tmp_path, CELLS, tuned=("msgd",)), tmp_path)
    target = targets.target_of(runs, MNIST1D)
    times = targets.run_times(runs, target)
    table = targets.summary_table(times, [target], tuning=True).set_index("optimiser")
    assert table.loc["msgd", targets.TUNING_COST] == "263 s, 32 runs"
    assert table.loc["msgd", targets.INCLUDING_TUNING] == "264"  # 263 s of tuning + 1 s to target (low median)
    assert table.loc["adam", targets.TUNING_COST] == table.loc["adam", targets.INCLUDING_TUNING] == "untuned"
    assert targets.TUNING_COST not in targets.summary_table(times, [target]).columns  # the self-tuning track
    assert tuning.cost_of("mnist1d_soap", tmp_path) == {"tuning_s": None, "tuning_runs": None}  # no results file


# The tasks beyond the thesis: a threshold declared on the workload (comparison_settings.THRESHOLDS).
PINN_REACTION = TUNED.workload("pinn_reaction")
IMAGE_FIT = next(w for w in SELF_TUNING.workloads if w.task == "image_fit")


def threshold_runs(root, workload, metric, curves, seconds_per_epoch=1.0):
    """One finished run per curve of ``metric`` (one value an epoch) on the workload's setting."""
    rows = []
    for seed, values in enumerate(curves, 100):
        run_dir = root / workload.setting.name / f"seed{seed}"
        run_dir.mkdir(parents=True)
        epochs = np.arange(1, len(values) + 1)
        pd.DataFrame({"epoch": epochs, metric: values, "wall_time_s": seconds_per_epoch * epochs,
                      "gradient_evals": epochs, "hvps": 0, "loss_evals": epochs}).to_csv(run_dir / "metrics.csv",
                                                                                         index=False)
        rows.append({"setting": workload.setting.name, "optim": "adam", "seed": seed, "status": "completed",
                     "run_dir": str(run_dir)})
    return Records(pd.DataFrame(rows))


def test_a_threshold_target_is_declared_on_the_workload_and_needs_no_runs():
    target = targets.target_from(PINN_REACTION, [("never read", lambda: pytest.fail("read"))])
    assert (target.metric, target.value, target.baseline) == ("l2_relative_error", 0.1, None)
    assert target.text == "L2 relative error ≤ 0.1" and target.why.startswith("declared: a solution within 10 %")
    assert targets.target_of(Records(), IMAGE_FIT).text == "test PSNR (dB) ≥ 19"
    wave = TUNED.workload("pinn_wave").threshold
    convection = TUNED.workload("pinn_convection").threshold
    assert (wave.value, convection.value) == (0.5, 0.5) and "first mode" in wave.why and "result" in convection.why
    assert TUNED.workload("image_fit_minibatch").threshold == IMAGE_FIT.threshold


def test_an_error_reaches_its_threshold_from_above_and_a_psnr_from_below(tmp_path):
    errors = threshold_runs(tmp_path, PINN_REACTION, "l2_relative_error", [[0.9, 0.2, 0.1, 0.05], [0.9, 0.5, 0.11]])
    times = targets.run_times(errors, targets.target_of(errors, PINN_REACTION))
    assert times["epoch"].tolist() == [3, INF] and times["reached"].tolist() == [True, False]  # at the value: reached
    psnr = threshold_runs(tmp_path, IMAGE_FIT, "test_psnr", [[10.0, 18.9, 19.0, 21.0], [12.0, 25.0]])
    target = targets.target_of(psnr, IMAGE_FIT)
    assert targets.run_times(psnr, target)["epoch"].tolist() == [3, 2]
    # Inside the self-tuning track's budget only (1 s an epoch here): the second run's 25 dB came at 2 s.
    assert targets.run_times(psnr, target, within_s=1.5)["epoch"].tolist() == [INF, INF]
    every = targets.all_run_times(psnr, [target], quick=True)  # the quick budget: 4 s of training
    assert every["epoch"].tolist() == [3, 2] and set(every["setting"]) == {IMAGE_FIT.setting.name}


def test_a_threshold_goes_with_its_criterion_and_a_known_metric():
    setting = PINN_REACTION.setting
    with pytest.raises(ValueError, match="a threshold goes with Criterion.THRESHOLD"):
        Workload(setting, Criterion.THRESHOLD)
    with pytest.raises(ValueError, match="a threshold goes with Criterion.THRESHOLD"):
        Workload(setting, Criterion.CONVERGENCE, PINN_REACTION.threshold)
    with pytest.raises(ValueError, match="threshold metric 'l2_error'"):
        Threshold("l2_error", 0.1, "a typo")
