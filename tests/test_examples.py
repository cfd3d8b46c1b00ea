"""The examples of docs/usage.md run and report what they show (examples/*.py, each as a fresh process at a tiny
size): a finite loss from the plain loop (float32, float64, bfloat16 autocast), from Lightning's automatic and manual
optimisation and from DeepXDE; data-parallel processes that agree bit for bit; more steps accepted with the same
random streams in a step than without; and a torch.compile backend built on AOTAutograd refused, the parameters
untouched, where the eager one trains."""

import importlib.util
import math
import re
import subprocess
import sys

import pytest
from conftest import REPO, service_unavailable

FINAL = re.compile(r"^final: .*$", re.M)
NUMBER = r"([-+0-9.e]+|nan|inf)"


def run_example(name: str, *args: str, needs: str | None = None) -> tuple[str, str]:
    """Run ``examples/<name>.py args`` in a fresh interpreter; its final line (``final: …``), and all its output."""
    if needs is not None and importlib.util.find_spec(needs) is None:
        service_unavailable(f"examples/{name}.py needs {needs} (the dev extra)")
    done = subprocess.run([sys.executable, str(REPO / "examples" / f"{name}.py"), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = FINAL.findall(done.stdout)
    assert lines and done.stdout.strip().splitlines()[-1] == lines[-1], done.stdout[-3000:]
    # curvature_batch got its sub-batch: no kryball.WholeBatchCurvature warning
    assert "curvature uses the whole batch" not in done.stderr
    return lines[-1], done.stdout


def numbers(pattern: str, line: str) -> list[float]:
    found = re.search(pattern.replace("#", NUMBER), line)
    assert found, f"{pattern!r} not in {line!r}"
    return [float(v) for v in found.groups()]


@pytest.mark.parametrize("precision", ["float32", "float64", "bf16-autocast"])
def test_the_plain_loop_trains(precision):
    line, _ = run_example("plain_loop", "--epochs", "1", "--precision", precision)
    loss, accuracy, accepted, steps = numbers(r"loss #, accuracy #, (\d+) of (\d+) steps", line)
    assert math.isfinite(loss) and 0 <= accuracy <= 1 and steps == 8 and accepted >= 1
    assert line.endswith(f"({precision})")


def test_lightning_automatic_optimisation_takes_a_kryball_step_per_batch():
    line, _ = run_example("lightning_automatic", "--epochs", "1", needs="lightning")
    loss, accepted, steps, lightning_steps = numbers(r"loss #, accuracy [0-9.]+, (\d+) of (\d+) steps accepted, "
                                                     r"(\d+) optimiser steps by Lightning", line)
    assert math.isfinite(loss) and steps == lightning_steps == 4096 // 512 and accepted >= 1


def test_lightning_manual_optimisation_trains():
    line, _ = run_example("lightning_manual", "--epochs", "1", needs="lightning")
    mse, accepted, steps = numbers(r"mean squared error # .*?(\d+) of (\d+) steps", line)
    assert math.isfinite(mse) and steps == 1024 // 256 and accepted >= 1


def test_deepxde_trains_a_poisson_equation():
    line, _ = run_example("deepxde_poisson", "--steps", "5", needs="deepxde")
    error, steps, accepted = numbers(r"relative L2 error # after (\d+) KryBall steps \((\d+) accepted\)", line)
    assert math.isfinite(error) and steps == 5 and accepted >= 1


@pytest.mark.heavy
def test_data_parallel_processes_agree_bit_for_bit():
    line, _ = run_example("ddp", "--steps", "2")
    (loss,) = numbers(r"batch loss #", line)
    assert math.isfinite(loss) and "the parameters of the 2 processes agree bit for bit" in line


def test_the_same_random_streams_in_a_step_are_accepted_at_least_as_often():
    # 30 steps: the noise between two dropout masks decides ρ once the loss is small (at 10 steps it does not yet).
    line, _ = run_example("dropout_batchnorm", "--steps", "30")
    same, fresh, *_ = numbers(r"acceptance # with same_randomness=True, # with same_randomness=False "
                              r"\(eval loss # against #\)", line)
    assert same >= fresh and 0 < same <= 1


@pytest.mark.heavy
def test_a_compile_backend_with_aot_autograd_is_refused_and_the_eager_one_trains():
    # aot_eager: AOTAutograd as inductor (the example's default) has it, without compiling C++ first
    line, output = run_example("compiled_model", "--steps", "3", "--backend", "aot_eager")
    assert "parameters untouched by the refused step: True; steps counted: 0" in output
    first, last = numbers(r"^final: backend='aot_eager' refused; backend='eager' trained, loss # -> #", line)
    assert last < first
