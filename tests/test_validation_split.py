"""Validation splits (docs/sweeps.md, "Validation splits"): carved out of the training set by the
split seed, never by the run seed; 0 keeps the thesis's whole training set untouched; records of
older versions, without validation fields, still load."""
import pytest
import torch
from conftest import compose_config

from suite.config import ConfigError
from suite.experiment import build
from suite.run_record import RunSummary
from tasks.classification import split_validation
from tasks.mnist1d import MNIST1D, generate


def mnist1d(**options):
    return MNIST1D(seed=options.pop("seed", 0), device=torch.device("cpu"), dtype=torch.float32, **options)


def as_set(x):
    return {tuple(row.tolist()) for row in x}


def test_mnist1d_holds_out_400_of_its_4000_training_samples():
    task = build(compose_config(["task=mnist1d"]).task, seed=3, device=torch.device("cpu"), dtype=torch.float32)
    assert (len(task.y_train), len(task.y_val), len(task.y_test)) == (3600, 400, 1000)
    official = torch.as_tensor(generate(5000)["x"], dtype=torch.float32)
    assert as_set(task.x_train) | as_set(task.x_val) == as_set(official)
    assert not as_set(task.x_train) & as_set(task.x_val)


def test_the_split_depends_on_the_split_seed_not_the_run_seed():
    a, b = mnist1d(seed=0, num_samples=500), mnist1d(seed=7, num_samples=500)
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.x_train, b.x_train)
    c = mnist1d(num_samples=500, split_seed=1)
    assert not torch.equal(a.x_val, c.x_val)


def test_fraction_zero_is_the_whole_training_set_untouched():
    full = mnist1d(num_samples=500, validation_fraction=0)
    assert full.y_val is None and set(full.evaluate(torch.nn.Flatten())) == {"test_loss", "test_acc"}
    assert torch.equal(full.x_train, torch.as_tensor(generate(500)["x"], dtype=torch.float32))


def test_validation_metrics_are_measured_on_the_held_out_samples():
    task = mnist1d(num_samples=500)
    model = torch.nn.Linear(40, 10)
    row = task.evaluate(model)
    assert set(row) == {"test_loss", "test_acc", "val_loss", "val_acc"}
    with torch.no_grad():
        logits = model(task.x_val)
    assert row["val_loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, task.y_val)))
    assert row["val_acc"] == pytest.approx(float((logits.argmax(1) == task.y_val).float().mean()))


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 0.0001])
def test_a_fraction_that_makes_no_split_is_refused(fraction):
    with pytest.raises(ConfigError, match="task.validation_fraction"):
        split_validation(torch.zeros(100, 2), torch.zeros(100), fraction, 0)


def test_cifar10_holds_out_a_tenth_of_its_training_images(cifar_dir):
    cfg = compose_config(["task=cifar10_cnn", f"task.data_dir={cifar_dir}"])
    task = build(cfg.task, seed=0, device=torch.device("cpu"), dtype=torch.float32)
    assert (len(task.y_train), len(task.y_val), len(task.y_test)) == (45, 5, 10)  # 10 images per generated file


def test_records_without_validation_fields_still_load():
    old = {"task": "mnist1d", "optim": "adam", "model": "mlp", "seed": 0, "status": "completed",
           "final_test_acc": 0.6, "peak_test_acc": 0.62}
    summary = RunSummary.from_json(old)
    assert summary.final_test_acc == 0.6 and summary.final_val_acc is None and summary.peak_val_acc is None


def test_with_the_split_every_step_sees_a_full_batch_and_the_thesis_setup_sees_every_sample():
    """3600 = 7 × 512 + 16: a 16-example step undid KryBall+'s progress each epoch (tasks/classification.py)."""
    task = build(compose_config(["task=mnist1d"]).task, seed=0, device=torch.device("cpu"), dtype=torch.float32)
    sizes = [len(y) for _, y in task.batches(epoch=1)]
    assert sizes == [512] * 7
    thesis = build(compose_config(["task=mnist1d", "task.validation_fraction=0", "task.drop_last=false"]).task,
                   seed=0, device=torch.device("cpu"), dtype=torch.float32)
    assert sum(len(y) for _, y in thesis.batches(epoch=1)) == 4000
    tiny = mnist1d(num_samples=250, batch_size=512)  # fewer samples than one batch: still one step an epoch
    assert [len(y) for _, y in tiny.batches(epoch=1)] == [180]
