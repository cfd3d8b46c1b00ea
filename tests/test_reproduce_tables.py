"""The reproduction's table builders (suite/reproduction/tables.py) on small synthetic run records."""

import pandas as pd

from suite.records import Records
from suite.reproduction import chapter5, columns, run_plan, tables

ROSENBROCK = chapter5.ROSENBROCK_U11
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


def runs(rows):
    return Records(pd.DataFrame(rows))


def rosenbrock_table(rows):
    return tables.convergence_table(runs(rows), [ROSENBROCK]).set_index("optimiser")


def test_median_spread_costs_and_thesis_beside_ours():
    table = rosenbrock_table([converged("kryball", 0, 10), converged("kryball", 1, 14), converged("kryball", 2, 30)])
    row = table.loc["kryball"]
    assert row["thesis: epochs"] == "5"  # Table 5.1, KryBall on U[1, 1]
    assert row[columns.EPOCHS] == "14 [10–30]"
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
    assert table.loc["msgd", columns.EPOCHS] == "N/A (diverged)"
    assert table.loc["adam", columns.EPOCHS] == "N/A (not converged / diverged)"
    assert table.loc["lbfgs", columns.EPOCHS] == "N/A (not converged)"  # the median seed never converged
    assert table.loc["lbfgs", "runs"] == "1/3 converged, 2 completed"
    # Two of three converged: the median is finite, the third seed still shows in `runs`.
    assert table.loc["kryball", columns.EPOCHS] == "8 [6–8]"
    assert table.loc["kryball", "runs"] == "2/3 converged, 1 diverged"
    assert table.loc["msgd", "gradient evals"] == "—"


def test_a_failed_run_is_shown_with_its_error():
    table = rosenbrock_table([converged("kryball", 0, 6),
                              record("kryball", 1, "failed", error="RuntimeError: boom"),
                              record("msgd", 0, "failed", error="ConfigError: bad")])
    assert table.loc["kryball", columns.EPOCHS] == "6 [6–6]"
    assert table.loc["kryball", "runs"] == "1/2 converged, 1 failed (RuntimeError: boom)"
    assert table.loc["msgd", columns.EPOCHS] == "failed"
    assert "ConfigError: bad" in table.loc["msgd", "runs"]


def test_untuned_cells_name_their_sweep_and_tuned_cells_their_file():
    table = rosenbrock_table([converged("kryball", 0, 6), converged("adam", 0, 200, tuned="rosenbrock_u11_adam")])
    assert table.loc["kryball", "config"] == ("untuned defaults (tune: "
                                              "`python scripts/sweep.py sweeps/rosenbrock_u11/kryball.yaml`)")
    assert table.loc["adam", "config"] == "tuned: +tuned=rosenbrock_u11_adam"
    assert "msgd" not in table.index  # a cell without planned runs is left out, not faked


def test_thesis_layout_keeps_the_blank_thesis_cell():
    rows = [converged("kryball", s, 7, setting="rosenbrock_u01") for s in range(2)]
    table = tables.convergence_table(runs(rows), [chapter5.ROSENBROCK_U01])
    layout = tables.thesis_layout(table)
    assert layout.loc[0, "Rosenbrock U[0, 1]"] == "7 (thesis: —)"


def test_classification_table_mean_std_and_rows_not_run_here(tmp_path):
    mnist = chapter5.MNIST1D
    runs = [record("kryball", s, "completed", setting="mnist1d", final_train_loss=loss, peak_test_acc=acc,
                   final_test_acc=acc - 0.01, wall_time_s=20.0, epochs_run=20)
            for s, (loss, acc) in enumerate([(0.1, 0.60), (0.3, 0.70)])]
    runs.append(record("adam", 0, "diverged", setting="mnist1d", epochs_run=3, wall_time_s=0.3))
    # No sweep specs: the settings' optimisers are the thesis's rows alone.
    table = tables.classification_table(Records(pd.DataFrame(runs)), [mnist, chapter5.CIFAR10_CNN],
                                        {"cifar10_cnn": "no GPU"}, "python scripts/reproduce.py", tmp_path)
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
    csv, md, runs_csv = tables.write([table], runs([converged("kryball", 0, 6)]), tmp_path, "t.quick", "Title",
                                     ["quick protocol"])
    assert pd.read_csv(csv)["optimiser"].tolist() == ["kryball"]
    assert pd.read_csv(runs_csv)["run_dir"].tolist() == ["/runs/kryball/seed0"]
    text = md.read_text()
    assert text.startswith("# Title\n\n- quick protocol\n") and "| kryball" in text and "t.quick.runs.csv" in text


def sweeps_dir(root, task, optims):
    """A sweeps folder with a (content-free) spec per optimiser: the file's presence is what counts."""
    folder = root / "sweeps" / task
    folder.mkdir(parents=True)
    for optim in optims:
        (folder / f"{optim}.yaml").write_text("")
    return root / "sweeps"


def test_an_optimiser_with_a_sweep_spec_joins_the_table_beyond_the_thesis(tmp_path):
    """Adding an optimiser to a table is a config file and a sweep spec: no code names it."""
    sweeps = sweeps_dir(tmp_path, "rosenbrock_u11", ["kryball", "lbfgs", "zz_newton_cg", "adagrad"])
    assert ROSENBROCK.optimisers(sweeps) == ("msgd", "adam", "lbfgs", "kryball", "adagrad", "zz_newton_cg")
    assert chapter5.ROSENBROCK_U01.optimisers(sweeps) == chapter5.FUNCTION_OPTIMS  # its task has no new spec
    plan = run_plan.plan(["table_5_1"], tmp_path, quick=True, only=["rosenbrock_u11"], sweeps_dir=sweeps)
    assert [s.optim for s in plan.specs if s.seed == 0] == list(ROSENBROCK.optimisers(sweeps))
    newton = next(s for s in plan.specs if s.optim == "zz_newton_cg")
    assert "optim=zz_newton_cg" in newton.overrides and newton.tuned is None
    assert newton.sweep_command.endswith("rosenbrock_u11/zz_newton_cg.yaml")

    table = tables.convergence_table(runs([converged("kryball", 0, 6), converged("zz_newton_cg", 0, 3)]),
                                     [ROSENBROCK], sweeps).set_index("optimiser")
    assert list(table.index) == ["kryball", "zz_newton_cg"]
    assert table.loc["zz_newton_cg", "thesis: epochs"] == tables.BEYOND
    assert table.loc["zz_newton_cg", columns.EPOCHS] == "3 [3–3]"
    assert table.loc["kryball", "thesis: epochs"] == "5"
    layout = tables.thesis_layout(table.reset_index()).set_index("optimiser")
    assert layout.loc["zz_newton_cg", "Rosenbrock U[1, 1]"] == "3 (beyond the thesis)"
    assert layout.loc["kryball", "Rosenbrock U[1, 1]"] == "6 (thesis: 5)"


def test_xors_lbfgs_spec_tunes_the_thesis_row_and_adds_no_row(tmp_path):
    sweeps = sweeps_dir(tmp_path, "xor", ["msgd", "adam", "lbfgs", "kryball"])
    assert chapter5.XOR.optimisers(sweeps) == ("msgd", "adam", "lbfgs_single", "kryball")


def test_a_table_row_not_run_here_lists_the_optimisers_beyond_the_thesis_too(tmp_path):
    sweeps = sweeps_dir(tmp_path, "cifar10_cnn", ["adam", "zz_shampoo"])
    table = tables.classification_table(Records(), [chapter5.CIFAR10_CNN], {"cifar10_cnn": "no GPU"}, "cmd", sweeps)
    assert list(table["optimiser"]) == ["adam", "msgd", "kryball", "zz_shampoo"]
    shampoo = table.iloc[-1]
    assert shampoo["thesis: final test accuracy"] == tables.BEYOND and shampoo["runs"] == "not run here: no GPU"
