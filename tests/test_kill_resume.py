"""Nothing is lost when a training process dies (docs/design.md §5): ``train.py`` killed with SIGKILL at random
moments and restarted with ``resume=true`` ends exactly where an uninterrupted run ends, and a checkpoint being
written when the process dies never loads."""

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from suite.checkpoint import NAME, comparable, find_checkpoint, load_checkpoint
from suite.config import REPO, compose_config
from suite.training import run

# XOR with KryBall, long enough (about 1.5 s of training) to be killed mid-epoch and mid-checkpoint.
OVERRIDES = ["task=xor", "optim=kryball", "epochs=150", "stop_on_convergence=false", "threads=1", "checkpoint=true"]
KILLS = 3


def read_rows(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open() as f:
        return [{key: value for key, value in row.items() if key != "wall_time_s"} for row in csv.DictReader(f)]


def start_training(run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "train.py", *OVERRIDES, "resume=true", f"hydra.run.dir={run_dir}"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_progress(run_dir: Path, process: subprocess.Popen, since: float) -> bool:
    """Until the process has written a checkpoint newer than ``since`` (True) or has ended (False)."""
    checkpoint = run_dir / NAME
    while process.poll() is None:
        if checkpoint.exists() and checkpoint.stat().st_mtime > since:
            return True
        time.sleep(0.02)
    return False


def assert_identical(a, b, where="state"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.heavy
def test_a_run_killed_at_random_moments_resumes_to_the_uninterrupted_result(tmp_path, one_thread):
    straight = run(compose_config(OVERRIDES), tmp_path / "straight" / "run")
    run_dir = tmp_path / "killed" / "run"  # apart from "straight": no other run's checkpoint to be found
    rng = random.Random(0)
    kills, mid_write = 0, 0
    since = 0.0
    while True:
        process = start_training(run_dir)
        if kills < KILLS and wait_for_progress(run_dir, process, since):
            since = (run_dir / NAME).stat().st_mtime
            time.sleep(rng.uniform(0.0, 0.3))
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += process.returncode == -signal.SIGKILL
            mid_write += (run_dir / f".{NAME}.tmp").exists()
            continue
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        break
    assert kills == KILLS
    print(f"{kills} kills, {mid_write} of them while a checkpoint was being written")

    assert read_rows(run_dir) == read_rows(tmp_path / "straight" / "run")
    resumed = json.loads((run_dir / "summary.json").read_text())
    expected = straight.to_json()
    for key in ("status", "epochs_run", "epochs_to_convergence", "final_train_loss", "final_test_acc",
                "gradient_evals", "hvps", "loss_evals"):
        assert resumed[key] == expected[key], key
    assert comparable(resumed["config"]) == comparable(expected["config"])
    final, reference = (load_checkpoint(d / NAME, torch.device("cpu"))
                        for d in (run_dir, tmp_path / "straight" / "run"))
    for key in ("model", "optimizer", "rng", "counts", "status", "config"):
        assert_identical(final[key], reference[key], key)
    assert final["convergence"].get("epoch") == reference["convergence"].get("epoch")


KILLED_WHILE_SAVING = """\
import os, signal, sys, torch
from pathlib import Path
from suite.checkpoint import save_checkpoint

class DieWhilePickled:
    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGKILL)

run_dir = Path(sys.argv[1])
save_checkpoint(run_dir, {"epoch": 1, "weights": torch.arange(4.0), "config": {"seed": 0}})
save_checkpoint(run_dir, {"epoch": 2, "weights": torch.zeros(1_000_000), "then": DieWhilePickled(),
                          "config": {"seed": 0}})
"""


def test_a_process_killed_while_writing_a_checkpoint_leaves_the_previous_one(tmp_path):
    """A real SIGKILL in the middle of ``torch.save``: the half-written file is never the checkpoint."""
    script = tmp_path / "killed_while_saving.py"
    script.write_text(textwrap.dedent(KILLED_WHILE_SAVING))
    process = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert (tmp_path / f".{NAME}.tmp").exists()  # it did die while writing
    saved = load_checkpoint(tmp_path / NAME, torch.device("cpu"))
    assert saved["epoch"] == 1 and torch.equal(saved["weights"], torch.arange(4.0))


def test_an_unreadable_checkpoint_is_never_resumed(tmp_path):
    cfg = compose_config(["task=xor", "optim=adam", "epochs=2", "checkpoint=true", "stop_on_convergence=false"])
    run(cfg, tmp_path / "run")
    checkpoint = tmp_path / "run" / NAME
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])  # as a non-atomic writer would
    with pytest.warns(UserWarning, match="cannot be read"):
        assert find_checkpoint(cfg, tmp_path / "run") is None
    with pytest.warns(UserWarning, match="cannot be read"):
        again = run(compose_config(["task=xor", "optim=adam", "epochs=2", "checkpoint=true",
                                    "stop_on_convergence=false", "resume=true"]), tmp_path / "run")
    assert again.epochs_run == 2 and again.status == "completed"


def test_a_checkpoint_is_recognised_by_its_own_config_not_the_summary_beside_it(tmp_path):
    overrides = ["task=xor", "optim=adam", "epochs=3", "checkpoint=true", "stop_on_convergence=false"]
    cfg = compose_config([*overrides, "resume=true"])
    run(compose_config(overrides), tmp_path / "straight")
    run(compose_config([*overrides, "epochs=1"]), tmp_path / "other")  # another config: its budget differs

    # Killed after its first checkpoint but before its first summary.json: found by the config inside it
    # (not replaced by another directory's checkpoint of the same config).
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(tmp_path / "straight" / NAME, killed / NAME)
    assert find_checkpoint(cfg, killed) == killed / NAME
    # Beside another run's summary, the checkpoint's own config still decides, both ways round.
    shutil.copy(tmp_path / "other" / "summary.json", killed / "summary.json")
    assert find_checkpoint(cfg, killed) == killed / NAME
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(tmp_path / "other" / NAME, mixed / NAME)
    shutil.copy(tmp_path / "straight" / "summary.json", mixed / "summary.json")
    assert find_checkpoint(cfg, mixed) != mixed / NAME


def test_schedule_free_resumes_to_the_uninterrupted_result(tmp_path, one_thread):
    """Schedule-Free is checkpointed in eval mode (the averaged weights) and switched back to train mode at the
    next epoch's start: a run interrupted after a checkpoint and resumed makes that very round trip, so it ends
    bit for bit where the uninterrupted one does (in-process, cheaper than the SIGKILL test above)."""
    overrides = ["task=xor", "optim=schedule_free_adamw", "optim.lr=0.05", "epochs=12", "stop_on_convergence=false",
                 "threads=1", "checkpoint=true"]
    run(compose_config(overrides), tmp_path / "straight")

    def interrupt(epoch, row):
        if epoch == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(compose_config(overrides), tmp_path / "resumed", on_epoch=interrupt)
    run(compose_config([*overrides, "resume=true"]), tmp_path / "resumed")
    assert read_rows(tmp_path / "resumed") == read_rows(tmp_path / "straight")
    final, reference = (load_checkpoint(tmp_path / d / NAME, torch.device("cpu")) for d in ("resumed", "straight"))
    for key in ("model", "optimizer", "rng", "counts", "status"):
        assert_identical(final[key], reference[key], key)
