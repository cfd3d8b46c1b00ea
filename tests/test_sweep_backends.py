"""The sweep command and its backends (docs/sweeps.md): the command dispatches through its
choices (suite/sweeps/choices.py), writes whatever Best a backend returns (--protocol thesis), and refuses another
backend's or protocol's options."""
import argparse

import pytest
import yaml

from suite.commands import sweep
from suite.config import REPO
from suite.sweeps.backend import Backend, Best, NoBestRun, Option, repo_relative
from suite.sweeps.choices import BACKENDS, DEFAULT, DEFAULT_PROTOCOL, PROTOCOLS
from suite.sweeps.local import LocalBackend
from suite.sweeps.wandb_backend import WandbBackend

SPEC = REPO / "sweeps" / "xor" / "kryball.yaml"


class StandIn(Backend):
    """Records what the command hands it and returns a fixed best configuration."""

    name = "standin"
    options = (Option("--standin-knob", "a stand-in option"),)
    instead = "the stand-in has its own knob"

    def __init__(self, best=None):
        self.best, self.calls = best, []

    def run(self, checked, trials, args):
        self.calls.append((checked, trials, args.standin_knob))
        if self.best is None:
            raise NoBestRun("nothing ran")
        return self.best


@pytest.fixture
def standin(monkeypatch):
    backend = StandIn(Best({"optim.krylov_dim": 6, "optim.refresh": 2}, 9,
                           ("Best of a stand-in study: trial 1 of 2",)))
    monkeypatch.setitem(BACKENDS, backend.name, backend)
    return backend


def test_the_choices_hold_both_backends_and_protocols_under_their_names():
    assert isinstance(BACKENDS["local"], LocalBackend) and isinstance(BACKENDS["wandb"], WandbBackend)
    assert all(name == owner.name for owners in (BACKENDS, PROTOCOLS) for name, owner in owners.items())
    assert DEFAULT == "local" and DEFAULT_PROTOCOL == "robust" and set(PROTOCOLS) == {"robust", "thesis"}


def test_the_default_protocol_needs_a_backend_that_can_search(tmp_path, capsys, standin):
    assert sweep.main([str(SPEC), "--backend", "standin", "--tuned-dir", str(tmp_path)]) == 2
    assert "cannot run the default protocol's anchor trials and re-runs" in capsys.readouterr().err
    assert standin.calls == [] and not list(tmp_path.iterdir())


def test_command_dispatches_to_a_registered_backend_and_writes_its_best(tmp_path, capsys, standin):
    assert sweep.main([str(SPEC), "--protocol", "thesis", "--backend", "standin", "--standin-knob", "k",
                       "--trials", "2", "--tuned-dir", str(tmp_path), "epochs=12"]) == 0
    ((checked, trials, knob),) = standin.calls
    assert (trials, knob) == (2, "k")
    assert checked.spec.task == "xor" and checked.extra_overrides == ("epochs=12",)
    assert checked.base.epochs == 12  # the command line's overrides reach the composed config
    text = (tmp_path / "xor_kryball.yaml").read_text()
    assert "# Best of a stand-in study: trial 1 of 2" in text
    assert "# Use: python train.py experiment=fig5_3_xor optim=kryball +tuned=xor_kryball" in text
    assert yaml.safe_load(text) == {"optim": {"krylov_dim": 6, "refresh": 2}}
    assert "best epochs_to_convergence = 9" in capsys.readouterr().out


def test_trials_default_to_the_spec_run_cap(tmp_path, standin):
    assert sweep.main([str(SPEC), "--protocol", "thesis", "--backend", "standin", "--tuned-dir", str(tmp_path)]) == 0
    assert standin.calls[0][1] == 20


def test_no_best_run_writes_nothing_and_exits_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(BACKENDS, "standin", StandIn(best=None))
    assert sweep.main([str(SPEC), "--protocol", "thesis", "--backend", "standin", "--tuned-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == "nothing ran"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv, refused", [
    (["--backend", "wandb", "--workers", "2"], "--workers is for --backend local"),
    (["--backend", "wandb", "--storage", "x.log", "--workers", "2"], "--storage and --workers are for --backend local"),
    (["--backend", "wandb", "--seed", "3"], "--seed is for --backend local"),
    (["--project", "other"], "--project is for --backend wandb"),
    (["--backend", "local", "--entity", "team"], "--entity is for --backend wandb"),
    (["--protocol", "thesis", "--top-k", "2"], "--top-k is for --protocol robust"),
    (["--protocol", "thesis", "--seeds", "4,5"], "--seeds is for --protocol robust"),
])
def test_options_of_another_backend_are_refused_in_one_line(argv, refused, capsys):
    with pytest.raises(SystemExit) as exit_:
        sweep.parse_args([str(SPEC), *argv])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: " + refused in error


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--trials", "0"], ["--top-k", "0"], ["--seeds", "1,x"]])
def test_counts_must_be_positive(argv, capsys):
    with pytest.raises(SystemExit):
        sweep.parse_args([str(SPEC), *argv])
    err = capsys.readouterr().err
    assert "must be at least 1" in err or "expected comma-separated integers" in err


def test_every_backend_option_has_a_default_that_means_not_given():
    # The refusal compares each option with its default, so a backend's options must parse to
    # their defaults when absent.
    args = sweep.parse_args([str(SPEC)])
    for owner in (*BACKENDS.values(), *PROTOCOLS.values()):
        for option in owner.options:
            assert getattr(args, option.dest) == option.default, option.flag


def test_paths_in_tuned_headers_are_relative_to_the_repository(tmp_path):
    assert repo_relative(REPO / "outputs" / "sweeps" / "xor-adam" / "trial_0003") == \
        "outputs/sweeps/xor-adam/trial_0003"
    outside = repo_relative(tmp_path / "runs" / "trial_0003")
    assert outside == "runs/trial_0003 (outside the repository)" and str(tmp_path) not in outside


def test_committed_tuned_configs_hold_no_absolute_paths():
    for path in (REPO / "conf" / "tuned").glob("*.yaml"):
        for line in path.read_text().splitlines():
            if line.startswith(("# Run directory:", "# Re-runs:")):
                assert not line.split(":", 1)[1].strip().startswith("/"), path.name
    for path in (REPO / "conf" / "tuned").glob("*.results.json"):
        assert str(REPO) not in path.read_text() and '"/' not in path.read_text(), path.name
