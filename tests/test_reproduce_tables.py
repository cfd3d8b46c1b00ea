"""The reproduction's table builders (suite/reproduction/tables.py) on small synthetic run records."""

import pandas as pd

from suite.reproduction import protocol, tables, thesis

ROSENBROCK = protocol.SETTINGS["rosenbrock_u11"]
SWEEP = "python scripts/sweep.py sweeps/rosenbrock_u11/{}.yaml"


def record(optim, seed, status, epochs=None, setting="rosenbrock_u11", tuned=None, **outcomes):
    return {"setting": setting, "optim": optim, "seed": seed, "status": status, "tuned": tuned,
            "sweep_command": SWEEP.format(optim), "error": outcomes.pop("error", None),
            "epochs_to_convergence": epochs, "run_dir": f"/runs/{optim}/seed{seed}",
            **{key: outcomes.get(key) for key in ("gradient_evals", "hvps", "loss_evals", "time_to_convergence_s",
                                                   "final_train_loss", "peak_test_acc", "final_test_acc",
                                                   "wall_time_s", "epochs_run")}}


def converged(optim, seed, epochs, **kw):
    return record(optim, seed, "converged", epochs, gradient_evals=epochs, hvps=2 * epochs, loss_evals=2 * epochs,
                  time_to_convergence_s=0.01 * epochs, **kw)


def rosenbrock_table(rows):
    table = tables.convergence_table(pd.DataFrame(rows), [ROSENBROCK], thesis.TABLE_5_1)
    return table.set_index("optimiser")


def test_median_spread_costs_and_thesis_beside_ours():
    table = rosenbrock_table([converged("kryball", 0, 10), converged("kryball", 1, 14), converged("kryball", 2, 30)])
    row = table.loc["kryball"]
    assert row["thesis: epochs"] == "5"  # Table 5.1, KryBall on U[1, 1]
    assert row[tables.EPOCHS] == "14 [10–30]"
    assert row["ours: mean ± std (converged)"] == "18 ± 11"
    assert row["runs"] == "3/3 converged"
    assert (row["gradient evals"], row["HVPs"], row["loss evals"]) == ("14", "28", "28")
    assert row["wall-clock to convergence (s)"] == "0.14"


def test_diverged_and_never_converged_runs_are_na_and_counted():
    table = rosenbrock_table([
        record("msgd", 0, "diverged"), record("msgd", 1, "diverged"),
        record("adam", 0, "completed"), record("adam", 1, "diverged"),
        converged("lbfgs", 0, 4), record("lbfgs", 1, "completed"), record("lbfgs", 2, "completed"),
        converged("kryball", 0, 6), converged("kryball", 1, 8), record("kryball", 2, "diverged"),
    ])
    assert table.loc["msgd", tables.EPOCHS] == "N/A (diverged)"
    assert table.loc["adam", tables.EPOCHS] == "N/A (not converged / diverged)"
    assert table.loc["lbfgs", tables.EPOCHS] == "N/A (not converged)"  # the median seed never converged
    assert table.loc["lbfgs", "runs"] == "1/3 converged, 2 completed"
    # Two of three converged: the median is finite, the third seed still shows in `runs`.
    assert table.loc["kryball", tables.EPOCHS] == "8 [6–8]"
    assert table.loc["kryball", "runs"] == "2/3 converged, 1 diverged"
    assert table.loc["msgd", "gradient evals"] == "—"


def test_a_failed_run_is_shown_with_its_error():
    table = rosenbrock_table([converged("kryball", 0, 6),
                              record("kryball", 1, "failed", error="RuntimeError: boom"),
                              record("msgd", 0, "failed", error="ConfigError: bad")])
    assert table.loc["kryball", tables.EPOCHS] == "6 [6–6]"
    assert table.loc["kryball", "runs"] == "1/2 converged, 1 failed (RuntimeError: boom)"
    assert table.loc["msgd", tables.EPOCHS] == "failed"
    assert "ConfigError: bad" in table.loc["msgd", "runs"]


def test_untuned_cells_name_their_sweep_and_tuned_cells_their_file():
    table = rosenbrock_table([converged("kryball", 0, 6), converged("adam", 0, 200, tuned="rosenbrock_u11_adam")])
    assert table.loc["kryball", "config"] == ("untuned defaults (tune: "
                                              "`python scripts/sweep.py sweeps/rosenbrock_u11/kryball.yaml`)")
    assert table.loc["adam", "config"] == "tuned: +tuned=rosenbrock_u11_adam"
    assert "msgd" not in table.index  # a cell without planned runs is left out, not faked


def test_thesis_layout_keeps_the_blank_thesis_cell():
    rows = [converged("kryball", s, 7, setting="rosenbrock_u01") for s in range(2)]
    table = tables.convergence_table(pd.DataFrame(rows), [protocol.SETTINGS["rosenbrock_u01"]], thesis.TABLE_5_1)
    layout = tables.thesis_layout(table)
    assert layout.loc[0, "Rosenbrock U[0, 1]"] == "7 (thesis: —)"


def test_classification_table_mean_std_and_rows_not_run_here():
    mnist = protocol.SETTINGS["mnist1d"]
    runs = [record("kryball", s, "completed", setting="mnist1d", final_train_loss=loss, peak_test_acc=acc,
                   final_test_acc=acc - 0.01, wall_time_s=20.0, epochs_run=20)
            for s, (loss, acc) in enumerate([(0.1, 0.60), (0.3, 0.70)])]
    runs.append(record("adam", 0, "diverged", setting="mnist1d", epochs_run=3, wall_time_s=0.3))
    table = tables.classification_table(pd.DataFrame(runs), [mnist, protocol.SETTINGS["cifar10_cnn"]],
                                        thesis.TABLE_5_2, {"cifar10_cnn": "no GPU"}, "python scripts/reproduce.py")
    kryball = table[(table["model"] == "MNIST-1D MLP") & (table["optimiser"] == "kryball")].iloc[0]
    assert kryball["ours: final training loss"] == "0.2 ± 0.14"
    assert kryball["thesis: peak test accuracy"] == "0.685"
    assert kryball["wall-clock per epoch (s)"] == "1 ± 0"
    adam = table[(table["model"] == "MNIST-1D MLP") & (table["optimiser"] == "adam")].iloc[0]
    assert adam["ours: final training loss"] == "—" and adam["runs"] == "1 diverged"
    cifar = table[table["model"] == "CIFAR-10 CNN"]
    assert list(cifar["optimiser"]) == ["adam", "msgd", "kryball"]
    assert set(cifar["ours: final test accuracy"]) == {"not run here"}
    assert list(cifar["thesis: final training loss"]) == ["0.099", "0.111", "0.135"]
    assert cifar.iloc[0]["runs"] == "not run here: no GPU"
    assert "python scripts/reproduce.py" in cifar.iloc[0]["config"]


def test_write_puts_notes_and_tables_in_markdown(tmp_path):
    table = rosenbrock_table([converged("kryball", 0, 6)]).reset_index()
    runs = pd.DataFrame([converged("kryball", 0, 6)])
    csv, md, runs_csv = tables.write([table], runs, tmp_path, "t.quick", "Title", ["quick protocol"])
    assert pd.read_csv(csv)["optimiser"].tolist() == ["kryball"]
    assert pd.read_csv(runs_csv)["run_dir"].tolist() == ["/runs/kryball/seed0"]
    text = md.read_text()
    assert text.startswith("# Title\n\n- quick protocol\n") and "| kryball" in text and "t.quick.runs.csv" in text
