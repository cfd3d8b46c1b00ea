"""KryBall's defaults are stated once, in kryball/options.py: conf/optim/kryball.yaml names them (Hydra overrides need
every key it has) with exactly those values, and conf/optim/kryball_plus.yaml names only where it differs — besides
the defaults that optim=kryball leaves out, named so that an override of them needs no ``+``."""

import yaml
from conftest import CONF_DIR
from omegaconf import OmegaConf

from kryball import HYPERPARAMETERS
from suite.config import SUITE_KEYS, compose_config

HYDRA_KEYS = ("_target_", "_partial_", "defaults")  # Hydra's, and SUITE_KEYS the suite's: no KryBall option


def own_options(name: str) -> dict:
    """The options a config file itself names (not what it inherits), as YAML reads them (lists for tuples)."""
    data = yaml.safe_load((CONF_DIR / "optim" / f"{name}.yaml").read_text())
    return {key: value for key, value in data.items() if key not in (*HYDRA_KEYS, *SUITE_KEYS)}


def default(key):
    value = HYPERPARAMETERS[key]
    return list(value) if isinstance(value, tuple) else value


def test_kryball_yaml_states_kryballs_defaults_and_nothing_else():
    options = own_options("kryball")
    assert set(options) <= set(HYPERPARAMETERS)
    assert {key: default(key) for key in options} == options


def test_kryball_plus_yaml_states_only_where_it_differs_and_the_defaults_kryball_yaml_leaves_out():
    plus, kryball = own_options("kryball_plus"), own_options("kryball")
    assert set(plus) <= set(HYPERPARAMETERS)
    differs = {key for key, value in plus.items() if value != default(key)}
    assert differs == {"krylov_dim", "curvature_batch", "directions", "curvature"}  # its choices (docs/performance.md)
    assert not (set(plus) - differs) & set(kryball)  # a default it names is one optim=kryball does not
    composed = OmegaConf.to_container(compose_config(["optim=kryball_plus"]).optim)
    assert set(HYPERPARAMETERS) <= set(composed)  # every option can be overridden without a `+`
    assert {key: composed[key] for key in set(HYPERPARAMETERS) - differs} == {
        key: default(key) for key in set(HYPERPARAMETERS) - differs}
