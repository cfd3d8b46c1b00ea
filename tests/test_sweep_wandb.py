"""``--backend wandb`` without the W&B server (W&B sweeps cannot run offline, docs/sweeps.md): a clear
refusal that creates nothing, and — with a stand-in ``wandb`` module — the full flow of
``--protocol thesis`` from sweep creation to the tuned config. The default protocol is refused
on W&B before anything is created."""
import sys
import types

import pytest
import yaml

from suite.commands import sweep
from suite.config import REPO
from suite.sweeps import tuned_results

SPEC = REPO / "sweeps" / "xor" / "kryball.yaml"


class FakeWandb(types.ModuleType):
    """Records what would have been created on the server."""

    def __init__(self, reachable=True):
        super().__init__("wandb")
        self.created, self.agents, self.reachable = [], [], reachable
        fake = self

        class Api:
            default_entity = "me"

            def __init__(self, timeout=None):
                pass

            @property
            def viewer(self):
                if not fake.reachable:
                    raise ConnectionError("api.wandb.ai unreachable")
                return object()

            def sweep(self, path):
                best = types.SimpleNamespace(
                    config={"optim.krylov_dim": {"value": 4}, "optim": {"refresh": 7}},
                    summary={"epochs_to_convergence": 12}, path=["me", "kryball", "run1"])
                return types.SimpleNamespace(best_run=lambda: best)

        self.Api = Api

    def sweep(self, config, entity=None, project=None):
        self.created.append(config)
        return "abc123"

    def agent(self, sweep_id, entity=None, project=None, count=None):
        self.agents.append((sweep_id, count))


@pytest.fixture
def no_login(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def cli(tmp_path, *extra, protocol="thesis"):
    return sweep.main([str(SPEC), "--backend", "wandb", "--protocol", protocol, "--trials", "2",
                       "--tuned-dir", str(tmp_path / "tuned"), *extra])


def test_not_installed_says_how_to_install(monkeypatch, tmp_path, capsys, no_login):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    assert cli(tmp_path) == 2
    err = capsys.readouterr().err
    assert 'pip install -e ".[wandb]"' in err and "--backend local" in err
    assert len(err.strip().splitlines()) == 1


def test_no_credentials_creates_nothing(monkeypatch, tmp_path, capsys, no_login):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    assert cli(tmp_path) == 2
    assert "credentials" in capsys.readouterr().err
    assert fake.created == [] and not (tmp_path / "tuned").exists()


def test_no_network_creates_nothing(monkeypatch, tmp_path, capsys, no_login):
    fake = FakeWandb(reachable=False)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert cli(tmp_path) == 2
    err = capsys.readouterr().err
    assert "cannot reach W&B" in err and "--backend local" in err
    assert fake.created == []


def test_full_flow_with_a_stand_in_server(monkeypatch, tmp_path, capsys, no_login):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert cli(tmp_path, "epochs=50") == 0
    (config,) = fake.created
    assert config["command"][-2:] == ["epochs=50", "${args_no_hyphens}"]
    assert config["parameters"] == yaml.safe_load(SPEC.read_text())["parameters"]
    assert config["early_terminate"] == {"type": "hyperband", "eta": 3, "min_iter": 10}  # the thesis's
    assert fake.agents == [("abc123", 2)]
    out = capsys.readouterr().out
    assert "wandb agent me/kryball/abc123" in out
    tuned = yaml.safe_load((tmp_path / "tuned" / "xor_kryball.yaml").read_text())
    assert tuned == {"optim": {"krylov_dim": 4, "refresh": 7}}
    saved = tuned_results.read(tmp_path / "tuned" / "xor_kryball.results.json")
    assert saved.protocol == "thesis" and saved.seeds[0].epochs_to_convergence == 12


def test_the_default_protocol_is_refused_on_wandb_before_anything_is_created(monkeypatch, tmp_path, capsys,
                                                                             no_login):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert cli(tmp_path, protocol="robust") == 2
    err = capsys.readouterr().err
    assert "--backend wandb runs --protocol thesis only" in err and "--backend local" in err
    assert fake.created == [] and fake.agents == [] and not (tmp_path / "tuned").exists()
