"""The comparison's committed per-run results (suite/comparison_results.py, suite/reproduction/per_run.py): the
typed file format, a report rebuilt from the files equal to the report of the runs, and the tables of
docs/results.md equal to what the committed files give (suite/reproduction/docs_block.py)."""

import math

import numpy as np
import pandas as pd
import pytest

from suite import comparison_results as files
from suite.records import Records
from suite.reproduction import comparison, docs_block, per_run
from suite.reproduction.comparison_settings import SELF_TUNING, TRACKS, TUNED, UNTUNED_BEYOND_THESIS
from suite.reproduction.setting import SWEEPS_DIR


def test_values_come_back_as_their_columns_type(tmp_path):
    row = {"setting": "s, with a comma", "optimiser": "adam", "seed": 100, "status": "completed", "tuned": None,
           "epochs_run": np.int64(7), "final_val_acc": 0.1 + 0.2, "reached": np.bool_(False),
           "epochs_to_target": math.inf, "final_test_acc": math.nan}
    files.write(tmp_path / "x.csv", [row])
    [back] = files.read(tmp_path / "x.csv")
    assert back["setting"] == "s, with a comma" and back["seed"] == 100 and back["epochs_run"] == 7
    assert back["final_val_acc"] == 0.1 + 0.2  # exactly: repr round-trips a float
    assert back["reached"] is False and back["epochs_to_target"] == math.inf
    assert back["tuned"] is None and back["final_test_acc"] is None and back["hvps"] is None
    assert list(back) == [column.name for column in files.COLUMNS]


def test_a_file_in_another_format_is_refused_in_one_line(tmp_path):
    (tmp_path / "x.csv").write_text("setting,optim\ns,adam\n")
    with pytest.raises(files.FormatError, match=r"x\.csv: not a per-run results file \(no column optimiser, seed"):
        files.read(tmp_path / "x.csv")
    with pytest.raises(files.FormatError, match="no per-run results of the tuned track"):
        per_run.load(TUNED, tmp_path)


def test_the_index_keeps_the_tasks_it_was_not_given(tmp_path):
    files.write_index(tmp_path, "tuned", {"xor": {"epochs": 100}})
    files.write_index(tmp_path, "tuned", {"mnist1d": {"epochs": 100}})
    assert set(files.read_index(tmp_path, "tuned")) == {"xor", "mnist1d"}
    assert files.read_index(tmp_path, "self_tuning") == {}


def synthetic(root) -> Records:
    """Runs of the tuned track on XOR (convergence) and MNIST-1D (accuracy curves), a failed run among them."""
    rows = []
    mnist1d, xor = (TUNED.workload(task).setting.name for task in ("mnist1d", "xor"))
    for optim, finals in {"adam": (0.60, 0.64, 0.62), "msgd": (0.66, 0.5, 0.7), "kryball_plus": (0.63,)}.items():
        for seed, final in enumerate(finals, 100):
            epochs = np.arange(1, 201)
            curve = pd.DataFrame({"epoch": epochs, "val_acc": final * (1 - np.exp(-epochs / 5)),
                                  "test_acc": final * (1 - np.exp(-epochs / 5)), "wall_time_s": 0.1 * epochs,
                                  "gradient_evals": 7 * epochs, "hvps": (30 if optim == "kryball_plus" else 0) * epochs,
                                  "loss_evals": 7 * epochs})
            run_dir = root / optim / str(seed)
            run_dir.mkdir(parents=True)
            curve.to_csv(run_dir / "metrics.csv", index=False)
            rows.append({"setting": mnist1d, "optim": optim, "seed": seed, "status": "completed", "epochs_run": 200,
                         "final_val_acc": curve["val_acc"].iloc[-1], "final_test_acc": final - 0.01,
                         "final_train_loss": 1 - final, "wall_time_s": 20.0, "gradient_evals": 1400, "hvps": 0,
                         "loss_evals": 1400, "tuned": f"mnist1d_{optim}" if optim != "kryball_plus" else None,
                         "sweep_command": f"python scripts/sweep.py sweeps/mnist1d/{optim}.yaml",
                         "run_dir": str(run_dir)})
    for optim, outcomes in {"adam": (44, None, 51), "kryball": (12, 14, "failed")}.items():
        for seed, epochs in enumerate(outcomes, 100):
            run_dir = root / "xor" / optim / str(seed)
            run_dir.mkdir(parents=True)
            last = epochs if isinstance(epochs, int) else 100
            pd.DataFrame({"epoch": np.arange(1, last + 1), "wall_time_s": 0.01 * np.arange(1, last + 1),
                          "gradient_evals": np.arange(1, last + 1), "hvps": 0,
                          "loss_evals": np.arange(1, last + 1)}).to_csv(run_dir / "metrics.csv", index=False)
            status = "failed" if epochs == "failed" else "converged" if epochs else "completed"
            rows.append({"setting": xor, "optim": optim, "seed": seed, "status": status, "epochs_run": last,
                         "epochs_to_convergence": epochs if isinstance(epochs, int) else None,
                         "error": "RuntimeError: boom" if status == "failed" else None, "tuned": f"xor_{optim}",
                         "run_dir": str(run_dir), "wall_time_s": 0.01 * last})
    return Records(pd.DataFrame(rows))


def test_a_report_rebuilt_from_the_files_is_the_report_of_the_runs(tmp_path):
    measured = comparison.measure(synthetic(tmp_path / "runs"), list(TUNED.workloads), TUNED)
    written = per_run.publish(measured, list(TUNED.workloads), TUNED, tmp_path / "results")
    assert {p.name for p in written} == {"xor.csv", "mnist1d.csv", "mnist1d.curves.csv"}
    rebuilt = per_run.load(TUNED, tmp_path / "results")
    workloads = comparison.with_runs(measured.records, list(TUNED.workloads))
    block = comparison.markdown_block(measured, workloads, TUNED, SWEEPS_DIR)
    assert comparison.markdown_block(rebuilt, workloads, TUNED, SWEEPS_DIR) == block
    assert "RuntimeError: boom" in block and "1 failed" in block  # the failed run is kept, and not scored
    assert "untuned" in block  # KryBall+ had no tuned config here
    pd.testing.assert_frame_equal(rebuilt.times.reset_index(drop=True), measured.times.reset_index(drop=True),
                                  check_dtype=False)
    # The figure's curves come from the curves file, thinned to a few dozen epochs with the target's first hit.
    setting = TUNED.workload("mnist1d").setting.name
    hits = measured.times[measured.times["setting"] == setting].set_index(["optimiser", "seed"])["epoch"]
    for run, curve in rebuilt.records.where(setting=setting).each_run():
        assert 20 <= len(curve) <= per_run.CURVE_POINTS + 2 and curve["epoch"].iloc[-1] == 200
        hit = hits[(run["optim"], run["seed"])]
        assert math.isinf(hit) or hit in curve["epoch"].tolist()
        assert {"val_acc", "wall_time_s", "grad_eq"} <= set(curve)


def committed_block(track: str) -> str:
    """What the committed per-run results of a track give for docs/results.md (empty without any)."""
    folder = files.FOLDER / track
    if not any(folder.glob("*.csv")):
        return ""
    measured = per_run.load(TRACKS[track])
    return comparison.markdown_block(measured, comparison.with_runs(measured.records, list(TRACKS[track].workloads)),
                                     TRACKS[track], SWEEPS_DIR)


@pytest.mark.parametrize("track", sorted(TRACKS))
def test_the_tables_in_results_md_are_those_of_the_committed_per_run_results(track):
    assert docs_block.read(track) == committed_block(track), (
        f"docs/results.md's {track} block differs from conf/tuned/comparison/{track}/: run "
        f"`python scripts/reproduce.py comparison --track {track} --from-results --write-docs`")


def test_a_document_without_the_markers_is_refused(tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text(f"# Results\n{docs_block.begin('tuned')}\n")
    with pytest.raises(docs_block.MissingBlock, match="no single `comparison:tuned:begin`"):
        docs_block.read("tuned", doc)
    doc.write_text(f"{docs_block.begin('self_tuning')}\nold\n{docs_block.end('self_tuning')}\n")
    docs_block.write("self_tuning", "| a |\n|---|", doc)
    assert docs_block.read("self_tuning", doc) == "| a |\n|---|"
    docs_block.write("self_tuning", "", doc)
    assert docs_block.read("self_tuning", doc) == "" and SELF_TUNING.name in doc.read_text()


def threshold_synthetic(root) -> Records:
    """Untuned runs of the tuned track on the physics-informed reaction (an L2 relative error curve each)."""
    rows, setting = [], TUNED.workload("pinn_reaction").setting.name
    for optim, finals in {"adam_then_lbfgs": (0.04, 0.05, 0.3), "kryball_plus": (0.98, 0.9, 0.95)}.items():
        for seed, final in enumerate(finals, 100):
            epochs = np.arange(1, 501)
            error = final + (1 - final) * np.exp(-epochs / 50)
            run_dir = root / optim / str(seed)
            run_dir.mkdir(parents=True)
            pd.DataFrame({"epoch": epochs, "l2_relative_error": error, "wall_time_s": 0.2 * epochs,
                          "gradient_evals": 20 * epochs, "hvps": 0, "loss_evals": 25 * epochs}).to_csv(
                run_dir / "metrics.csv", index=False)
            rows.append({"setting": setting, "optim": optim, "seed": seed, "status": "completed", "epochs_run": 500,
                         "final_l2_relative_error": error[-1], "best_l2_relative_error": error.min() - 0.001,
                         "wall_time_s": 100.0, "gradient_evals": 10_000, "hvps": 0, "loss_evals": 12_500,
                         "tuned": None, "sweep_command": f"python scripts/sweep.py sweeps/pinn_reaction/{optim}.yaml",
                         "run_dir": str(run_dir)})
    return Records(pd.DataFrame(rows))


def test_a_threshold_workloads_final_and_best_metric_are_tabled_and_rebuilt_from_the_files(tmp_path):
    measured = comparison.measure(threshold_synthetic(tmp_path / "runs"), list(TUNED.workloads), TUNED)
    workloads = comparison.with_runs(measured.records, list(TUNED.workloads))
    *_, table = comparison.final_tables(measured, workloads, SWEEPS_DIR, show_tuning=True)
    table = table.set_index("optimiser")
    assert table.loc["adam_then_lbfgs", "final L2 relative error"] == "0.13 ± 0.37 (n = 3)"
    assert table.loc["kryball_plus", "best L2 relative error"] == "0.942 ± 0.1 (n = 3)"  # best: a little below
    assert table.loc["kryball_plus", "epochs run"] == "500 ± 0 (n = 3)"
    assert table.loc["kryball_plus", "wall-clock per epoch (s)"].startswith("0.2 ± ")  # 100 s / 500 epochs
    assert table.loc["kryball_plus", "config"].startswith("untuned defaults (tune: `python scripts/sweep.py")
    assert comparison.untuned_notes(measured, workloads) == [
        f"Untuned cells on physics-informed reaction (ρ = 5): {UNTUNED_BEYOND_THESIS}."]
    times = measured.times.set_index(["optimiser", "seed"])
    assert times.loc[("adam_then_lbfgs", 100), "reached"] and not times.loc[("adam_then_lbfgs", 102), "reached"]
    # The per-run results carry the final and best metric and the curves; the report rebuilt from them is the same.
    written = per_run.publish(measured, workloads, TUNED, tmp_path / "results")
    assert {p.name for p in written} == {"pinn_reaction.csv", "pinn_reaction.curves.csv"}
    rows = files.read(tmp_path / "results" / "tuned" / "pinn_reaction.csv")
    assert rows[0]["final_l2_relative_error"] == pytest.approx(0.04 + 0.96 * math.exp(-10))
    assert rows[0]["target"] == "L2 relative error ≤ 0.1" and rows[0]["target_metric"] == "l2_relative_error"
    rebuilt = per_run.load(TUNED, tmp_path / "results")
    assert comparison.markdown_block(rebuilt, workloads, TUNED, SWEEPS_DIR) == comparison.markdown_block(
        measured, workloads, TUNED, SWEEPS_DIR)
    figure = comparison.target_figure(rebuilt.records, rebuilt.targets, tmp_path / "figure.png")
    assert figure.stat().st_size > 10_000


def test_the_physics_informed_tasks_stand_beside_the_published_numbers(tmp_path):
    measured = comparison.measure(threshold_synthetic(tmp_path / "runs"), list(TUNED.workloads), TUNED)
    workloads = comparison.with_runs(measured.records, list(TUNED.workloads))
    [row] = comparison.published_table(measured.records, workloads).to_dict("records")
    assert row["task"] == TUNED.workload("pinn_reaction").label
    assert row["Rathore et al. (paper size): Adam → L-BFGS"] == "0.0192"  # their Tables 1–2
    assert row["Rathore et al. (paper size): Adam → L-BFGS → NNCG"] == "0.00992"
    assert row["ours (CPU size): Adam → LBFGS"] == "0.13 ± 0.37 (n = 3)"  # the final cell of the threshold table
    assert row["ours (CPU size): Adam → KryBall+"] == "—"  # no runs of it here
    assert row["ours (CPU size): lowest mean"] == "Adam → LBFGS: 0.13"
    assert "Rathore et al. (paper size)" in comparison.markdown_block(measured, workloads, TUNED, SWEEPS_DIR)
    assert comparison.published_table(measured.records, [TUNED.workload("image_fit")]).empty  # nothing published
