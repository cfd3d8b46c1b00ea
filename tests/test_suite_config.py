"""The Hydra config of the suite: every group option composes, experiments are override-only
presets, and bad input gives one line naming the key."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CONF_DIR, REPO, compose_config
from omegaconf import OmegaConf

from suite.config import ConfigError, check_config

GROUPS = {group: sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
          for group in ("task", "model", "optim", "logger", "experiment")}


def test_default_is_mnist1d_with_kryball_plus_offline():
    cfg = compose_config([])
    assert (cfg.task.name, cfg.model.name, cfg.optim.name, cfg.logger.name) == ("mnist1d", "mlp", "kryball_plus", "csv")
    assert cfg.optim._target_ == "kryball.KryBall" and list(cfg.optim.directions) == ["adam", "previous_step"]
    assert cfg.task.num_samples == 5000 and cfg.task.batch_size == 512 and cfg.epochs == 100
    assert list(cfg.model.hidden_sizes) == [256, 256] and cfg.model.activation == "softplus"


@pytest.mark.parametrize("group", ["task", "optim", "logger", "experiment"])
def test_every_option_composes_and_resolves(group):
    for option in GROUPS[group]:
        cfg = compose_config([f"{group}={option}"])
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        check_config(cfg)


def test_every_model_composes_with_a_task_it_fits():
    fits = {"mlp": "mnist1d", "cnn": "cifar10_cnn", "resnet18": "cifar10_cnn",
            "deep_linear": "rahimi_recht", "parameter_vector": "rosenbrock", "fourier_mlp": "image_fit"}
    assert sorted(fits) == GROUPS["model"]
    for model, task in fits.items():
        cfg = compose_config([f"task={task}", f"model={model}"])
        assert cfg.model.name == model
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def test_tasks_bring_their_thesis_model_and_budget():
    expected = {"rosenbrock": ("parameter_vector", 2000), "rahimi_recht": ("deep_linear", 2000),
                "xor": ("mlp", 100), "mnist1d": ("mlp", 100), "cifar10_cnn": ("cnn", 40),
                "cifar10_resnet": ("resnet18", 40)}
    for task, (model, epochs) in expected.items():
        cfg = compose_config([f"task={task}"])
        assert (cfg.model.name, cfg.epochs) == (model, epochs)
    assert list(compose_config(["task=xor"]).model.hidden_sizes) == [8, 8]


def test_lbfgs_modes():
    ideal, single = compose_config(["optim=lbfgs"]).optim, compose_config(["optim=lbfgs_single"]).optim
    assert ideal.line_search_fn == "strong_wolfe" and ideal.max_iter == 20
    assert single.line_search_fn is None and single.max_iter == 1 and single.max_eval == 1


def test_experiments_are_override_only_and_hit_the_thesis_cells():
    for path in (CONF_DIR / "experiment").glob("*.yaml"):
        assert path.read_text().startswith("# @package _global_"), path.name
    cell = compose_config(["experiment=table5_1_rosenbrock_u03", "optim=kryball"])
    assert (cell.task.name, cell.task.noise_low, cell.task.noise_high) == ("rosenbrock", 0.0, 3.0)
    assert cell.optim.name == "kryball"
    assert compose_config(["experiment=table5_1_rahimi_recht_k1e5"]).task.condition_number == 1e5
    assert compose_config(["experiment=table5_2_cifar10_resnet18", "optim=adam"]).model.name == "resnet18"
    # Command-line choices win over an experiment's defaults.
    assert compose_config(["experiment=fig5_7_activations", "optim=adam"]).optim.name == "adam"


@pytest.mark.parametrize("override, key", [
    ("epochs=0", "epochs"),
    ("task.batch_size=0", "task.batch_size"),
    ("optim.krylov_dim=0", "optim.krylov_dim"),
    ("optim.refresh=0", "optim.refresh"),
    ("device=tpu", "device"),
])
def test_out_of_range_values_name_their_key(override, key):
    with pytest.raises(ConfigError) as error:
        check_config(compose_config([override]))
    assert error.value.key == key


def test_function_task_ranges():
    with pytest.raises(ConfigError, match="task.noise_low"):
        check_config(compose_config(["task=rosenbrock", "task.noise_low=2", "task.noise_high=1"]))
    with pytest.raises(ConfigError, match="task.condition_number"):
        check_config(compose_config(["task=rahimi_recht", "task.condition_number=0.5"]))
    with pytest.raises(ConfigError, match="optim.lr"):
        check_config(compose_config(["optim=msgd", "optim.lr=-1"]))


def cli(*overrides, tmp_path: Path):
    return subprocess.run([sys.executable, str(REPO / "train.py"), *overrides, f"hydra.run.dir={tmp_path}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_cli_bad_value_is_one_line_without_traceback(tmp_path):
    result = cli("task=rosenbrock", "task.noise_low=3", "task.noise_high=1", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: task.noise_low: must be ≤ task.noise_high (3 > 1)"]


@pytest.mark.parametrize("overrides, key, accepted", [
    (("+optim.lr=0.1",), "optim.lr", "krylov_dim"),  # KryBall has no learning rate: Hydra's hint must not end in a traceback
    (("optim=adam", "+optim.foo=1"), "optim.foo", "lr"),
    (("optim=soap", "+optim.foo=1"), "optim.foo", "lr"),  # pytorch-optimizer's take **kwargs: it would be ignored
    (("+task.foo=1",), "task.foo", "batch_size"),
    (("+model.bar=2",), "model.bar", "hidden_sizes"),
])
def test_cli_unknown_key_is_one_line_naming_it_and_the_keys_taken(tmp_path, overrides, key, accepted):
    result = cli(*overrides, "epochs=1", tmp_path=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {key}: not a key of ") and accepted in line.split("it takes:")[1]


def test_cli_a_run_refused_at_start_leaves_no_run_directory(tmp_path):
    outputs = tmp_path / "outputs"
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "task=xor", "seed=abc",
                           f"hydra.run.dir={outputs / 'runs' / 'day' / 'run'}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == "error: seed: must be an integer, got 'abc'"
    assert outputs.is_dir() and not any(outputs.iterdir())  # no run directory, no empty date folder
    kept = tmp_path / "mine"
    (kept / "notes").mkdir(parents=True)  # a directory that holds more than Hydra's stub is left as it was
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "+task.foo=1", f"hydra.run.dir={kept}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and sorted(p.name for p in kept.iterdir()) == ["notes"]


def test_cli_resume_without_a_checkpoint_says_it_starts_afresh(tmp_path):
    run_dir = tmp_path / "outputs" / "run"
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "task=xor", "optim=adam", "epochs=2",
                             "resume=true", f"hydra.run.dir={run_dir}"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0
    assert result.stderr.count("resume=true: no checkpoint of this config under outputs/") == 1
    assert "this run starts afresh" in result.stderr
    assert json.loads((run_dir / "summary.json").read_text())["epochs_run"] == 2


def test_cli_unknown_choice_lists_the_options(tmp_path):
    result = cli("optim=sgd", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "Available options in 'optim'" in result.stderr and "kryball" in result.stderr


def test_cli_missing_cifar_says_where_and_how(tmp_path):
    result = cli("task=cifar10_cnn", f"task.data_dir={tmp_path / 'nowhere'}", tmp_path=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: task.data_dir: CIFAR-10 not available in")
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in line
    assert "task.download=true" in line and "data_batch_1" in line


def test_cli_ctrl_c_leaves_a_readable_record(tmp_path):
    command = [sys.executable, str(REPO / "train.py"), "task=xor", "optim=adam", "epochs=100000",
               "stop_on_convergence=false", f"hydra.run.dir={tmp_path}"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not (tmp_path / "summary.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"].startswith("KeyboardInterrupt")
    assert summary["epochs_run"] >= 1 and not list(tmp_path.glob(".*.tmp"))
