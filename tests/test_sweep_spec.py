"""Sweep files and their translation (thesis §5.2.5, docs/sweeps.md): every distribution type
maps to Optuna, bad files are refused naming the key, and every shipped spec is valid W&B."""
import math
import pathlib
import subprocess
import sys

import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from suite.sweeps import space
from suite.sweeps.spec import SpecError, load, parse

REPO = pathlib.Path(__file__).resolve().parents[1]
SPECS = sorted((REPO / "sweeps").glob("*/*.yaml"))
FUNCTION_TASKS = ["rosenbrock_u11", "rosenbrock_u01", "rosenbrock_u03",
                  "rahimi_recht_k10", "rahimi_recht_k1e5"]
IMAGE_TASKS = ["mnist1d", "cifar10_cnn", "cifar10_resnet"]
# Beyond the thesis: full-batch least squares (physics-informed: l2_relative_error; image fitting: test_psnr).
PINN_TASKS = ["pinn_convection", "pinn_reaction", "pinn_wave"]
METRICS = {**{t: "val_acc" for t in IMAGE_TASKS}, **{t: "l2_relative_error" for t in PINN_TASKS},
           "image_fit": "test_psnr", "image_fit_minibatch": "test_psnr"}
# Thesis §5.2.5, exactly. LBFGS is not run on image classification (§5.2.1, Table 5.2).
THESIS_SPACES = {
    "msgd": {"optim.lr": ("log_uniform_values", 1e-4, 1.0), "optim.momentum": ("uniform", 0.8, 0.99)},
    "adam": {"optim.lr": ("log_uniform_values", 1e-4, 1.0), "optim.betas.0": ("uniform", 0.9, 0.999),
             "optim.betas.1": ("uniform", 0.99, 0.99999)},
    "lbfgs": {"optim.lr": ("log_uniform_values", 1e-4, 1.0)},
    "kryball": {"optim.krylov_dim": ("int_uniform", 1, 10), "optim.refresh": ("int_uniform", 1, 10)},
}
THESIS_SPACES["kryball_plus"] = THESIS_SPACES["kryball"]  # KryBall+ is tuned over KryBall's space
# Beyond the thesis: the peers, over the spaces their sources give (sweep_sources/spaces/<optim>.yaml cites them).
PEER_SPACES = {
    "adahessian": {"optim.lr": ("log_uniform_values", 1e-4, 1.0), "optim.hessian_power": ("uniform", 0.5, 1.0)},
    "sophiah": {"optim.lr": ("log_uniform_values", 1e-3, 10.0), "optim.p": ("log_uniform_values", 0.01, 0.1)},
    "soap": {"optim.lr": ("log_uniform_values", 1e-4, 1.0)},
    "muon": {"optim.lr": ("log_uniform_values", 1e-3, 1.0), "optim.adamw_lr": ("log_uniform_values", 1e-4, 1.0)},
    "trust_krylov": {"optim.initial_trust_radius": ("log_uniform_values", 1e-3, 100.0),
                     "optim.eta": ("uniform", 0.0, 0.24)},
    # The learning-rate-free peers: the multiplier of the estimated step size (Prodigy's d_coef), and momenta.
    "prodigy": {"optim.d_coef": ("log_uniform_values", 0.1, 10.0), "optim.betas.1": ("uniform", 0.99, 0.99999)},
    "dadapt_adam": {"optim.lr": ("log_uniform_values", 0.1, 10.0), "optim.betas.1": ("uniform", 0.99, 0.99999)},
    "dadapt_sgd": {"optim.lr": ("log_uniform_values", 0.1, 10.0), "optim.momentum": ("uniform", 0.0, 0.99)},
    "schedule_free_adamw": {"optim.lr": ("log_uniform_values", 1e-4, 1.0), "optim.betas.0": ("uniform", 0.9, 0.98)},
}
LEARNING_RATE_FREE = ("prodigy", "dadapt_adam", "dadapt_sgd", "schedule_free_adamw")
# The phased optimisers (Rathore et al., ICML 2024): the Adam phase's lr over the decades of the paper's grid.
PHASED = ("adam_then_lbfgs", "adam_then_kryball", "adam_then_kryball_plus", "adam_then_trust_krylov")
PEER_SPACES |= {optim: {"optim.first.lr": ("log_uniform_values", 1e-5, 1e-1)} for optim in PHASED}
# Searched by the default protocol beyond the thesis's space (Choi et al. 2019); --protocol thesis drops them.
BEYOND_THESIS = {"adam": {"optim.eps": ("log_uniform_values", 1e-10, 1.0)}}
GOOD = {
    "method": "bayes",
    "metric": {"name": "train_loss", "goal": "minimize", "impute": "latest"},
    "early_terminate": {"type": "hyperband", "eta": 3, "min_iter": 10},
    "program": "train.py",
    "command": ["${env}", "${interpreter}", "${program}", "task=xor", "optim=msgd", "${args_no_hyphens}"],
    "parameters": {"optim.lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0}},
}


def with_(path: str, value):
    raw = yaml.safe_load(yaml.safe_dump(GOOD))
    *parents, last = path.split("/")
    node = raw
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return raw


@pytest.mark.parametrize("param, expected", [
    ({"distribution": "uniform", "min": 0.8, "max": 0.99}, FloatDistribution(0.8, 0.99)),
    ({"min": 0.5, "max": 2.5}, FloatDistribution(0.5, 2.5)),
    ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0}, FloatDistribution(1e-4, 1.0, log=True)),
    ({"distribution": "log_uniform", "min": 0.0, "max": 1.0}, FloatDistribution(1.0, math.e, log=True)),
    ({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25}, FloatDistribution(0.0, 1.0, step=0.25)),
    ({"distribution": "int_uniform", "min": 1, "max": 10}, IntDistribution(1, 10)),
    ({"min": 1, "max": 10}, IntDistribution(1, 10)),
    ({"values": [1, "a", True]}, CategoricalDistribution([1, "a", True])),
    ({"value": 0.5}, None),
])
def test_translates_every_distribution(param, expected):
    assert space.translate("p", param) == expected


@pytest.mark.parametrize("raw, key", [
    (with_("parameters/optim.lr/distribution", "gaussian"), "parameters.optim.lr.distribution"),
    (with_("parameters/optim.lr/distribution", "normal"), "parameters.optim.lr.distribution"),
    (with_("parameters/optim.lr/min", 2.0), "parameters.optim.lr"),
    (with_("parameters/optim.lr", {"distribution": "int_uniform", "min": 10, "max": 1}), "parameters.optim.lr"),
    (with_("parameters/optim.lr/min", 0.0), "parameters.optim.lr.min"),
    (with_("parameters/optim.lr/mni", 0.1), "parameters.optim.lr.mni"),
    (with_("parameters/optim.lr/min", "1e-4"), "parameters.optim.lr.min"),  # PyYAML reads 1e-4 as a string
    (with_("metric", None), "metric"),
    (with_("metric/name", None), "metric"),
    (with_("metric/goal", "lower"), "metric.goal"),
    (with_("metric/impute", "zero"), "metric.impute"),
    (with_("command", ["python", "train.py"]), "command"),
    (with_("early_terminate/eta", 2.5), "early_terminate.eta"),
    (with_("early_terminate/min_iter", None), "early_terminate.min_iter"),
    (with_("methd", "bayes"), "methd"),
    (with_("method", "bayesian"), "method"),
    (with_("parameters", {}), "parameters"),
])
def test_rejects_bad_specs_naming_the_key(raw, key):
    with pytest.raises(SpecError) as err:
        spec = parse(raw, pathlib.Path("sweeps/xor/msgd.yaml"))
        space.search_space(spec)
    assert err.value.key == key


def test_spec_fields():
    spec = parse(GOOD, pathlib.Path("sweeps/xor/msgd.yaml"))
    assert (spec.task, spec.optim, spec.study_name) == ("xor", "msgd", "xor-msgd")
    assert spec.fixed_overrides == ("task=xor", "optim=msgd")
    assert (spec.hyperband.min_iter, spec.hyperband.eta) == (10, 3)


def test_every_task_and_optimiser_has_a_spec():
    expected = {(t, o) for t in FUNCTION_TASKS + ["xor"] for o in THESIS_SPACES}
    expected |= {(t, o) for t in IMAGE_TASKS for o in ("msgd", "adam", "kryball", "kryball_plus")}
    expected |= {(t, o) for t in FUNCTION_TASKS + ["xor"] + IMAGE_TASKS
                 for o in ("adahessian", "sophiah", "soap", *LEARNING_RATE_FREE)}
    expected |= {(t, "muon") for t in ["xor"] + IMAGE_TASKS}  # needs hidden weight matrices
    expected |= {(t, "trust_krylov") for t in FUNCTION_TASKS}  # full batch; Table 5.1's program
    # Beyond the thesis: every optimiser that applies (full-batch methods not on mini-batches; phased on PINNs).
    everywhere = ("msgd", "adam", "kryball", "kryball_plus", "adahessian", "sophiah", "soap", "muon",
                  *LEARNING_RATE_FREE)
    expected |= {(t, o) for t in [*PINN_TASKS, "image_fit", "image_fit_minibatch"] for o in everywhere}
    expected |= {(t, o) for t in [*PINN_TASKS, "image_fit"] for o in ("lbfgs", "trust_krylov")}
    expected |= {(t, o) for t in PINN_TASKS for o in PHASED}
    assert {(p.parent.name, p.stem) for p in SPECS} == expected


@pytest.mark.parametrize("path", SPECS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_spec_is_valid_wandb_with_the_thesis_space(path):
    spec = load(path)
    raw = spec.raw
    assert raw["method"] == "bayes" and raw["program"] == "train.py"
    assert "early_terminate" not in raw  # the default protocol stops no run early; thesis adds Hyperband
    assert raw["metric"]["impute"] == "latest"  # Hyperband-stopped runs (--protocol thesis) are not the worst
    assert raw["metric"]["name"] == METRICS.get(spec.task, "epochs_to_convergence")
    assert raw["run_cap"] == 20
    assert raw["command"][-1] == "${args_no_hyphens}" and "logger=wandb" in raw["command"]
    searched, constants = space.search_space(spec)
    assert not constants
    got = {name: (p["distribution"], p["min"], p["max"]) for name, p in raw["parameters"].items()}
    assert got == {**THESIS_SPACES, **PEER_SPACES}[spec.optim] | BEYOND_THESIS.get(spec.optim, {})
    for name, dist in searched.items():  # floats really are floats (1.0e-4, not 1e-4)
        assert isinstance(dist, (FloatDistribution, IntDistribution)), name


def run_cli(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "sweep.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("edit, key", [
    (("parameters/optim.lr/distribution", "gaussian"), "parameters.optim.lr.distribution"),
    (("parameters/optim.lr/max", 1e-5), "parameters.optim.lr"),
    (("metric", None), "metric"),
])
def test_cli_refuses_bad_spec_in_one_line(tmp_path, edit, key):
    bad = tmp_path / "xor" / "msgd.yaml"
    bad.parent.mkdir()
    bad.write_text(yaml.safe_dump(with_(*edit)))
    result = run_cli(bad, "--trials", 1, "--out", tmp_path / "runs")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert key in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before any trial
