"""logger=wandb without network: an offline W&B run directory with the run's history."""

import pytest
from conftest import compose_config, require_module

from suite.training import run

pytestmark = pytest.mark.usefixtures("one_thread")


def test_wandb_offline_writes_a_run_directory(tmp_path, monkeypatch):
    require_module("wandb", 'wandb is an optional extra: pip install -e ".[wandb]"')
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc key: mode=auto must pick offline
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    summary = run(compose_config(["task=xor", "optim=adam", "epochs=3", "logger=wandb"]), tmp_path / "run")
    assert summary.status in ("completed", "converged")
    [offline] = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert list(offline.glob("*.wandb")), "the offline run holds its history file"


def test_missing_wandb_is_a_one_line_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb":
            raise ImportError("No module named 'wandb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    from suite.config import ConfigError

    with pytest.raises(ConfigError, match=r'pip install -e "\.\[wandb\]"'):
        run(compose_config(["task=xor", "epochs=1", "logger=wandb"]), tmp_path)
