"""Gathering run records into one table (scripts/collect_runs.py) on small synthetic records."""

import json

import pytest

from suite import reach
from suite.commands import collect_runs
from suite.records import Records, summarise


def write_run(folder, seed, reuse, status, epochs_to_convergence, hvps):
    folder.mkdir(parents=True)
    summary = {"task": "rosenbrock", "optim": "kryball", "model": "parameter_vector", "seed": seed, "status": status, "epochs_run": 30,
               "epochs_to_convergence": epochs_to_convergence, "hvps": hvps, "final_train_loss": 1e-5,
               "config": {"optim": {"reuse_curvature": reuse}, "model": {"hidden_sizes": [seed + 1, 8]}}}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_groups_by_config_keys_and_aggregates(tmp_path, capsys):
    write_run(tmp_path / "a", 0, False, "converged", 10, 20)
    write_run(tmp_path / "b", 1, False, "converged", 14, 28)
    write_run(tmp_path / "c", 0, True, "converged", 30, 15)
    write_run(tmp_path / "d", 1, True, "completed", None, 40)
    runs = Records.load([tmp_path], ["optim.reuse_curvature"])
    table = summarise(runs, ["optim.reuse_curvature"], ["epochs_to_convergence", "hvps"])
    fresh, reused = table.iloc[0], table.iloc[1]
    assert fresh["runs"] == 2 and fresh["status"] == "converged 2"
    assert fresh["epochs_to_convergence median"] == 12 and fresh["hvps mean±std"].startswith("24 ± 5.7")
    assert reused["status"] == "converged 1, completed 1"
    assert reused["epochs_to_convergence median"] == 30  # a run that never converged is no number, not 0

    assert collect_runs.main([str(tmp_path), "--by", "optim.reuse_curvature", "--show", "hvps"]) == 0
    assert "| optim.reuse_curvature" in capsys.readouterr().out


def test_missing_or_empty_folders_are_one_line_errors(tmp_path, capsys):
    assert collect_runs.main([str(tmp_path / "nowhere")]) == 2
    assert collect_runs.main([str(tmp_path)]) == 2
    assert "no summary.json" in capsys.readouterr().err


def test_list_valued_keys_label_groups(tmp_path):
    write_run(tmp_path / "a", 0, False, "converged", 10, 20)
    write_run(tmp_path / "b", 1, False, "converged", 14, 28)
    table = summarise(Records.load([tmp_path], ["model.hidden_sizes"]), ["model.hidden_sizes"])
    assert list(table["model.hidden_sizes"]) == ["[1, 8]", "[2, 8]"]


def write_curve(folder, optim, seed, val_acc):
    """A finished MNIST-1D-like run whose validation accuracy per epoch is ``val_acc`` (1 s and 10 gradients plus
    5 HVPs an epoch)."""
    folder.mkdir(parents=True)
    summary = {"task": "mnist1d", "optim": optim, "model": "mlp", "seed": seed, "status": "completed",
               "epochs_run": len(val_acc), "config": {}}
    (folder / "summary.json").write_text(json.dumps(summary))
    rows = ["epoch,train_loss,test_loss,test_acc,val_loss,val_acc,wall_time_s,gradient_evals,hvps,loss_evals"]
    rows += [f"{e},{1 / e},{1 / e},{acc},{1 / e},{acc},{1.0 * e},{10 * e},{5 * e},{10 * e}"
             for e, acc in enumerate(val_acc, start=1)]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")


def test_reach_reports_when_each_group_first_reached_the_value(tmp_path, capsys):
    write_curve(tmp_path / "a0", "adam", 0, [0.5, 0.7, 0.6])  # reaches 0.7 at epoch 2
    write_curve(tmp_path / "a1", "adam", 1, [0.5, 0.6, 0.72])  # at epoch 3
    write_curve(tmp_path / "a2", "adam", 2, [0.5, 0.6, 0.65])  # never
    write_curve(tmp_path / "k0", "kryball", 0, [0.71, 0.8, 0.8])  # at epoch 1
    table = reach.reach_table(Records.load([tmp_path]), ["optim"], *reach.parse("val_acc=0.7"))
    adam, kryball = table.set_index("optim").loc["adam"], table.set_index("optim").loc["kryball"]
    assert adam["reached"] == "2/3" and kryball["reached"] == "1/1"
    # the low median over all runs, ∞ counted, then [min–max] over those that reached it
    assert adam["epochs, median [min–max]"] == "3 [2–3]"
    assert adam["wall-clock (s), median [min–max]"] == "3 [2–3]"
    assert adam["gradient-equivalents, median [min–max]"] == "45 [30–45]"  # nominal: gradients + HVPs
    assert kryball["epochs, median [min–max]"] == "1"
    # a loss is reached from above: train_loss = 1/epoch ≤ 0.4 first at epoch 3
    losses = reach.reach_table(Records.load([tmp_path]), ["optim"], "train_loss", 0.4).set_index("optim")
    assert losses.loc["adam", "epochs, median [min–max]"] == "3 [3–3]"

    figure = tmp_path / "reach.png"
    assert collect_runs.main([str(tmp_path), "--by", "optim", "--reach", "val_acc=0.7", "--plot", str(figure)]) == 0
    assert "| 2/3" in capsys.readouterr().out and figure.stat().st_size > 0


@pytest.mark.parametrize("arguments", [["--reach", "val_accuracy=0.7"], ["--reach", "val_acc=high"],
                                       ["--plot", "x.png"]])
def test_bad_reach_arguments_are_one_line_errors(tmp_path, capsys, arguments):
    write_curve(tmp_path / "a0", "adam", 0, [0.5])
    with pytest.raises(SystemExit) as exit_info:
        collect_runs.main([str(tmp_path), *arguments])
    assert exit_info.value.code == 2 and "--reach" in capsys.readouterr().err.splitlines()[-1]
