"""The ablation of KryBall's options beyond the thesis in scripts/reproduce.py: its plan, its tables
(costs per gradient-equivalent, Adam at equal wall-clock) on synthetic records, parallel runs, and a
CI-sized end-to-end run."""

import pandas as pd

from suite.commands import reproduce
from suite.records import GRAD_EQ, NOMINAL, GradientEquivalents, Records
from suite.reproduction import ablation, chapter5, plots, run_plan, runner
from suite.reproduction.ablation_settings import ABLATION_OPTIONS, ABLATIONS

WEIGHTS = GradientEquivalents(hvp=2.0, forward=0.5, measured_on="a test")
OF = {a.base: a for a in ABLATIONS}  # each task's ablation


def test_the_plan_adds_each_option_to_the_tuned_thesis_kryball(tmp_path):
    tuned = tmp_path / "tuned"
    (tuned / "thesis").mkdir(parents=True)  # the thesis protocol's tuned configs, which the ablation's cells use
    for name in ("mnist1d_kryball", "xor_kryball_plus"):
        (tuned / "thesis" / f"{name}.yaml").write_text("# @package _global_\n")
    specs = run_plan.plan(["ablation"], tmp_path, quick=True, tuned_dir=tuned).specs
    options = [s for s in specs if s.setting.name == "ablation_mnist1d"]
    assert [s.variant for s in options if s.seed == 0] == [name for name, _ in ABLATION_OPTIONS]
    previous = next(s for s in options if s.variant == "previous_step")
    assert {"optim=kryball", "++optim.directions=[previous_step]", "+tuned=thesis/mnist1d_kryball"} <= set(
        previous.overrides)
    assert previous.run_dir == tmp_path / "runs" / "quick" / "ablation_mnist1d" / "kryball" / "previous_step" / "seed0"
    plus = {s.setting.name: s for s in specs if s.optim == "kryball_plus"}
    # Tuned KryBall+ is the task's own kryball_plus row (it has a sweep spec), shared with Table 5.1/5.2 and XOR.
    assert plus["xor"].tuned == "thesis/xor_kryball_plus"  # the task's own sweep
    assert plus["mnist1d"].tuned is None
    assert plus["kryball_plus_defaults_xor"].tuned is None  # the command as it ships, whatever a sweep found
    assert plus["kryball_plus_defaults_xor"].overrides[:1] == chapter5.XOR.overrides
    assert plus["mnist1d"].sweep_command == "python scripts/sweep.py sweeps/mnist1d/kryball_plus.yaml"
    long = next(s for s in specs if s.setting.name == "adam_long_mnist1d")
    assert "epochs=800" in long.overrides  # 40× the quick protocol's 20 epochs
    assert "for each option in {adam_direction," in run_plan.describe(run_plan.SETTINGS["ablation_xor"], quick=True)


def metrics_file(folder, seconds_per_epoch, epochs, loss0=1.0):
    folder.mkdir(parents=True)
    rows = [dict(epoch=e, train_loss=loss0 / e, test_loss=1.0, test_acc=0.5 + e / (4 * epochs),
                 wall_time_s=seconds_per_epoch * e, gradient_evals=e, hvps=3 * e, loss_evals=2 * e)
            for e in range(1, epochs + 1)]
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    return str(folder)


def record(setting, optim, seed, run_dir, variant=None, **outcomes):
    return {"setting": setting, "optim": optim, "variant": variant, "seed": seed, "status": "completed",
            "tuned": None, "sweep_command": None, "error": None, "run_dir": run_dir, **outcomes}


def test_classification_table_costs_and_adam_read_at_kryball_plus_wall_clock(tmp_path):
    rows = []
    for seed in (0, 1):
        plus = metrics_file(tmp_path / f"plus{seed}", seconds_per_epoch=1.0, epochs=10)
        long = metrics_file(tmp_path / f"long{seed}", seconds_per_epoch=0.1, epochs=200)
        rows += [record("mnist1d", "kryball_plus", seed, plus, final_train_loss=0.1, peak_test_acc=0.75,
                        final_test_acc=0.75, wall_time_s=10.0, epochs_run=10, gradient_evals=10, hvps=30,
                        loss_evals=20),
                 record("adam_long_mnist1d", "adam", seed, long, wall_time_s=20.0, epochs_run=200)]
    table = ablation.classification_table(Records(pd.DataFrame(rows)), OF[chapter5.MNIST1D], WEIGHTS)
    table = table.set_index("optimiser")
    plus = table.loc["KryBall+ (optim=kryball_plus, tuned)"]
    assert plus["wall-clock per epoch (s)"] == "1 ± 0"
    assert plus["gradient-equivalents per epoch"] == "7.5 ± 0"  # (10 + 2·30 + 0.5·(20 − 10)) / 10
    equal = table.loc["Adam at the wall-clock of KryBall+ (optim=kryball_plus, tuned) (10 s ≈ 100 epochs)"]
    assert equal["ours: final training loss"] == "0.01 ± 0"  # epoch 100's loss, 1/100
    assert equal["ours: final test accuracy"] == "0.625 ± 0"  # 0.5 + 100/800
    assert equal["runs"] == "2 seeds, each read at its KryBall+ seed's time"


def test_no_equal_wall_clock_row_when_the_long_run_ended_too_soon(tmp_path):
    plus = metrics_file(tmp_path / "plus", seconds_per_epoch=1.0, epochs=10)
    short = metrics_file(tmp_path / "short", seconds_per_epoch=0.1, epochs=50)  # 5 s < 10 s
    records = Records(pd.DataFrame([record("mnist1d", "kryball_plus", 0, plus, wall_time_s=10.0, epochs_run=10),
                                    record("adam_long_mnist1d", "adam", 0, short, wall_time_s=5.0, epochs_run=50)]))
    assert ablation.equal_wall_clock_rows(records, OF[chapter5.MNIST1D]) == []


def test_convergence_table_counts_gradient_equivalents_to_convergence():
    records = Records(pd.DataFrame([
        record("xor", "adam", 0, "/x", status="converged", epochs_to_convergence=40, time_to_convergence_s=0.4,
               gradient_evals=40, hvps=0, loss_evals=40),
        record("ablation_xor", "kryball", 0, "/y", variant="previous_step", epochs_to_convergence=5,
               time_to_convergence_s=0.2, gradient_evals=5, hvps=20, loss_evals=12),
    ]).assign(status="converged"))
    table = ablation.convergence_table(records, OF[chapter5.XOR], WEIGHTS).set_index("optimiser")
    assert table.loc["Adam", "gradient-equivalents to convergence, median"] == "40"
    assert table.loc["KryBall + previous_step", "gradient-equivalents to convergence, median"] == "48.5"  # 5 + 40 + 3.5
    assert table.loc["KryBall + previous_step", "ours: epochs, median [min–max]"] == "5 [5–5]"


def test_one_definition_of_gradient_equivalents_with_the_weighting_on_the_axis():
    """Figures count an HVP as one gradient, the ablation weighs by measured times: one formula, and
    each axis says which it shows."""
    rows = pd.DataFrame({"gradient_evals": [10], "hvps": [30], "loss_evals": [20]})
    assert NOMINAL.of(rows).tolist() == [40]  # gradients + HVPs
    assert WEIGHTS.of(rows).tolist() == [75]  # 10 + 2·30 + 0.5·(20 − 10)
    assert plots.axis_label(GRAD_EQ) == "gradient-equivalents (gradients + HVPs)"
    assert plots.axis_label(GRAD_EQ, WEIGHTS) == ("gradient-equivalents (gradients + 2.00 × HVPs + 0.50 × extra "
                                                  "forwards, measured)")


def test_parallel_runs_give_the_records_of_sequential_ones(tmp_path, one_thread):
    specs = run_plan.plan(["figures"], tmp_path, quick=True, only=["saddle"]).specs
    parallel = runner.run_all(specs, report=lambda line: None, jobs=2).frame
    assert parallel["status"].tolist() == ["completed"] * 3
    sequential = runner.run_all(specs, report=lambda line: None).frame  # now reused from disk
    columns = ["setting", "optim", "seed", "status", "final_train_loss", "run_dir"]
    pd.testing.assert_frame_equal(parallel[columns], sequential[columns])


def test_ablation_on_xor_end_to_end(tmp_path, one_thread, capsys):
    argv = ["ablation", "--quick", "--seeds", "1", "--only", "xor/kryball", "--only", "ablation_xor",
            "--only", "xor/kryball_plus", "--out", str(tmp_path)]
    assert reproduce.main(argv) == 0
    table = pd.read_csv(tmp_path / "ablation_xor.quick.csv")
    assert table["optimiser"].tolist() == ["KryBall (thesis)", *(f"KryBall + {name}" for name, _ in
                                                                 ABLATION_OPTIONS),
                                           "KryBall+ (optim=kryball_plus, tuned)"]
    markdown = (tmp_path / "ablation_xor.quick.md").read_text()
    assert "Measured unit costs on XOR: one HVP =" in markdown and "Rosenbrock" not in markdown
    assert markdown.startswith("# Ablation of KryBall's options beyond the thesis on XOR")
    assert (tmp_path / "fig_ablation_xor.quick.png").stat().st_size > 10_000
