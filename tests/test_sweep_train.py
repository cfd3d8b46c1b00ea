"""Real local sweeps through train.py (thesis §5.2.5 on XOR, a few epochs): trials are ordinary
runs, the best config lands as a Hydra file, a re-run continues the same study, and every
shipped spec composes with the real Hydra config."""
import json
import shutil

import pytest
import yaml

from suite.commands import sweep
from suite.config import REPO, compose_config
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


def test_local_xor_sweep_writes_tuned_config_and_resumes(tmp_path, capsys):
    assert local_sweep(tmp_path, "xor/kryball.yaml", 3, "epochs=12") == 0
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
    assert not any(str(tmp_path) in line or str(REPO) in line for line in header)
    # The tuned file is a working Hydra config: compose it onto the task and optimiser.
    cfg = compose_config(["experiment=fig5_3_xor", "optim=kryball", "+tuned=xor_kryball"], conf_copy(tmp_path))
    assert cfg.optim.krylov_dim == tuned["optim"]["krylov_dim"] and cfg.epochs == 100

    # The same command again continues the study: 2 more trials, the first 3 kept.
    assert local_sweep(tmp_path, "xor/kryball.yaml", 2, "epochs=12") == 0
    out = capsys.readouterr().out
    assert "3 finished trials so far" in out
    assert [line.split("trial ")[1].split(":")[0] for line in trial_lines(out)] == ["3", "4"]
    assert len(list((tmp_path / "runs").glob("trial_*/summary.json"))) == 5


@pytest.mark.heavy
def test_two_local_workers_on_real_training(tmp_path, capsys):
    assert local_sweep(tmp_path, "xor/msgd.yaml", 4, "epochs=12", workers=2) == 0
    assert len(list((tmp_path / "runs").glob("trial_*/summary.json"))) == 4


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
    assert base.epochs == (40 if spec.task.startswith("cifar10") else 100)
    assert base.optim.name == {"lbfgs": "lbfgs_single" if spec.task == "xor" else "lbfgs"}.get(spec.optim, spec.optim)
