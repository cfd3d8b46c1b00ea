"""Real local sweeps through train.py (a few epochs): trials are ordinary runs, the best config
lands as a Hydra file with its per-seed results, the same command continues the same study, the
protocols run on XOR, MNIST-1D (validation metric) and CIFAR-10 (generated files in the real
format), and every shipped spec composes with the real Hydra config."""
import json
import shutil

import pytest
import yaml

from suite.commands import sweep
from suite.config import REPO, compose_config
from suite.sweeps import tuned_results
from suite.sweeps.backend import prepare

SPECS = sorted((REPO / "sweeps").glob("*/*.yaml"))


def local_sweep(tmp_path, spec, trials, *extra, workers=1):
    return sweep.main([str(REPO / "sweeps" / spec), "--trials", str(trials), "--workers", str(workers),
                       "--out", str(tmp_path / "runs"), "--tuned-dir", str(tmp_path / "conf" / "tuned"),
                       *extra])


def conf_copy(tmp_path):
    """The repo's Hydra config without its own tuned/ files, to compose a fresh tuned file."""
    shutil.copytree(REPO / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("tuned"),
                    dirs_exist_ok=True)
    return tmp_path / "conf"


def trial_lines(text):
    return [line for line in text.splitlines() if "] trial " in line]


def test_thesis_protocol_writes_tuned_config_and_resumes(tmp_path, capsys):
    assert local_sweep(tmp_path, "xor/kryball.yaml", 3, "--protocol", "thesis", "epochs=12") == 0
    out = capsys.readouterr().out
    assert len(trial_lines(out)) == 3 and "tuned config:" in out
    summaries = [json.loads(p.read_text()) for p in sorted((tmp_path / "runs").glob("trial_*/summary.json"))]
    assert len(summaries) == 3 and all(s["task"] == "xor" for s in summaries)
    assert all((p / "metrics.csv").exists() for p in (tmp_path / "runs").glob("trial_*"))

    tuned_file = tmp_path / "conf" / "tuned" / "xor_kryball.yaml"
    tuned = yaml.safe_load(tuned_file.read_text())
    assert set(tuned["optim"]) == {"krylov_dim", "refresh"}
    assert "+tuned=xor_kryball" in tuned_file.read_text()
    # Its header names the spec and the best run without this machine's absolute paths.
    header = [line for line in tuned_file.read_text().splitlines() if line.startswith("#")]
    assert "(sweeps/xor/kryball.yaml)" in header[1] and header[2].startswith("# Run directory: runs/trial_")
    assert "--protocol thesis" in header[3] and "xor_kryball.results.json" in header[4]
    assert not any(str(tmp_path) in line or str(REPO) in line for line in header)
    # The tuned file is a working Hydra config: compose it onto the task and optimiser.
    cfg = compose_config(["experiment=fig5_3_xor", "optim=kryball", "+tuned=xor_kryball"], conf_copy(tmp_path))
    assert cfg.optim.krylov_dim == tuned["optim"]["krylov_dim"] and cfg.epochs == 100

    # The same command again continues the study: 2 more trials, the first 3 kept.
    assert local_sweep(tmp_path, "xor/kryball.yaml", 2, "--protocol", "thesis", "epochs=12") == 0
    out = capsys.readouterr().out
    assert "3 finished trials so far" in out
    assert [line.split("trial ")[1].split(":")[0] for line in trial_lines(out)] == ["3", "4"]
    assert len(list((tmp_path / "runs").glob("trial_*/summary.json"))) == 5


@pytest.mark.heavy
def test_two_local_workers_on_real_training(tmp_path, capsys):
    assert local_sweep(tmp_path, "xor/msgd.yaml", 4, "--top-k", "1", "--seeds", "1", "epochs=12",
                       workers=2) == 0
    assert len(list((tmp_path / "runs").glob("trial_*/summary.json"))) == 4
    assert len(list((tmp_path / "runs").glob("reruns/*/summary.json"))) in (1, 2)  # the best and the defaults


def test_robust_protocol_on_xor_anchors_reruns_and_resumes(tmp_path, capsys):
    argv = ("--top-k", "1", "--seeds", "1,2", "epochs=12")
    assert local_sweep(tmp_path, "xor/kryball.yaml", 3, *argv) == 0
    out = capsys.readouterr().out
    summaries = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "runs").glob("trial_*/summary.json")}
    # The anchors ran first: the library defaults, then the thesis's r_refresh = 1 (§5.3.4).
    assert [(summaries[f"trial_000{i}"]["config"]["optim"]["krylov_dim"],
             summaries[f"trial_000{i}"]["config"]["optim"]["refresh"]) for i in (0, 1)] == [(5, 3), (5, 1)]
    assert {s["seed"] for s in summaries.values()} == {0}
    reran = sorted(p.parent.name for p in (tmp_path / "runs").glob("reruns/*/summary.json"))
    assert len(reran) in (2, 4) and {name[-5:] for name in reran} == {"seed1", "seed2"}
    assert "trial_0000_seed1" in reran  # the defaults are always compared on the re-run seeds
    saved = tuned_results.read(tmp_path / "conf" / "tuned" / "xor_kryball.results.json")
    assert saved.protocol == "robust" and [s.seed for s in saved.seeds] == [1, 2]
    assert saved.selection.value == sum(s.value for s in saved.seeds) / 2
    assert "mean epochs_to_convergence over seeds 1, 2" in out and "(new; " in out
    # The same command again trains nothing: the search is complete and every re-run is reused.
    assert local_sweep(tmp_path, "xor/kryball.yaml", 3, *argv) == 0
    out = capsys.readouterr().out
    assert "the search is complete" in out and "(reused)" in out and "unchanged" in out
    assert not trial_lines(out)


def test_mnist1d_sweeps_select_on_validation_and_the_thesis_protocol_on_test(tmp_path, capsys):
    tiny = ("task.num_samples=200", "task.batch_size=64", "model.hidden_sizes=[16]", "epochs=3")
    assert local_sweep(tmp_path, "mnist1d/adam.yaml", 2, "--top-k", "1", "--seeds", "1", *tiny) == 0
    trial = json.loads((tmp_path / "runs" / "trial_0000" / "summary.json").read_text())
    assert trial["config"]["task"]["validation_fraction"] == 0.1 and trial["final_val_acc"] is not None
    assert trial["config"]["optim"]["eps"] == 1e-8  # the defaults anchor, Adam's epsilon included
    saved = tuned_results.read(tmp_path / "conf" / "tuned" / "mnist1d_adam.results.json")
    assert saved.metric.name == "val_acc"
    (seed,) = saved.seeds
    assert seed.value == seed.final_val_acc and seed.final_test_acc is not None
    assert "optim.eps" in saved.params

    assert local_sweep(tmp_path / "thesis", "mnist1d/adam.yaml", 2, "--protocol", "thesis", *tiny) == 0
    trial = json.loads((tmp_path / "thesis" / "runs" / "trial_0000" / "summary.json").read_text())
    assert trial["config"]["task"]["validation_fraction"] == 0 and trial["final_val_acc"] is None
    saved = tuned_results.read(tmp_path / "thesis" / "conf" / "tuned" / "mnist1d_adam.results.json")
    assert saved.metric.name == "test_acc" and "optim.eps" not in saved.params
    assert saved.seeds[0].value == saved.seeds[0].final_test_acc


def test_cifar10_sweep_runs_the_same_protocol_on_files_in_the_real_format(tmp_path, capsys, cifar_dir):
    tiny = (f"task.data_dir={cifar_dir}", "task.batch_size=16", "model.channels=[4,4,8]", "model.hidden=8",
            "epochs=1", "threads=1")
    assert local_sweep(tmp_path, "cifar10_cnn/msgd.yaml", 2, "--top-k", "1", "--seeds", "1", *tiny) == 0
    saved = tuned_results.read(tmp_path / "conf" / "tuned" / "cifar10_cnn_msgd.results.json")
    assert saved.metric.name == "val_acc" and saved.seeds[0].final_val_acc is not None


def test_parameter_that_is_no_override_is_refused(tmp_path, capsys):
    spec = yaml.safe_load((REPO / "sweeps" / "xor" / "kryball.yaml").read_text())
    spec["parameters"]["optim.lr"] = {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0}
    bad = tmp_path / "xor" / "kryball.yaml"
    bad.parent.mkdir()
    bad.write_text(yaml.safe_dump(spec))
    assert sweep.main([str(bad), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "parameters.optim.lr" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_spec_composes_with_every_parameter(path):
    args = sweep.parse_args([str(path)])
    checked = prepare(args.spec, args.overrides)  # raises SpecError naming the key otherwise
    spec, base = checked.spec, checked.base
    # The sweep budgets: the thesis's 100 epochs; CIFAR-10's, the physics-informed tasks' and image fitting's own.
    own = {"pinn_convection": 500, "pinn_reaction": 500, "pinn_wave": 400, "image_fit": 200, "image_fit_minibatch": 200}
    assert base.epochs == (40 if spec.task.startswith("cifar10") else own.get(spec.task, 100))
    assert base.optim.name == {"lbfgs": "lbfgs_single" if spec.task == "xor" else "lbfgs"}.get(spec.optim, spec.optim)
