"""Gathering run records into one table (scripts/collect_runs.py) on small synthetic records."""

import json

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
