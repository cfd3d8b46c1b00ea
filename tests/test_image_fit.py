"""Image fitting (tasks/image_fit.py, models/fourier_mlp.py): the image, the held-out pixels, PSNR, the Fourier
features, full and mini-batch epochs."""

import math

import pytest
import torch
from conftest import compose_config

from models.fourier_mlp import FourierFeatures, FourierMLP
from suite.config import ConfigError
from suite.experiment import build
from suite.training import run
from tasks.image_fit import ImageFit, load_image, psnr

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**overrides) -> ImageFit:
    return ImageFit(**{"seed": 0, "device": "cpu", "dtype": torch.float64, "size": 16, **overrides})


class Lookup(torch.nn.Module):
    """Predicts the task's own targets (plus ``offset``) at its pixels: a perfect fit, or a known error."""

    def __init__(self, task: ImageFit, offset: float = 0.0):
        super().__init__()
        self.table = {tuple(x.tolist()): y for x, y in zip(torch.cat([task.x_train, task.x_test]),
                                                           torch.cat([task.y_train, task.y_test]))}
        self.offset = offset

    def forward(self, x):
        return torch.stack([self.table[tuple(row.tolist())] for row in x]) + self.offset


def test_psnr_of_a_perfect_fit_is_infinite_and_of_a_known_error_the_formula():
    task = small()
    assert task.evaluate(Lookup(task))["test_psnr"] == math.inf
    noisy = task.evaluate(Lookup(task, offset=0.1))  # every channel off by 0.1: MSE 0.01, 20 dB
    assert noisy["test_loss"] == pytest.approx(0.01) and noisy["test_psnr"] == pytest.approx(20.0)
    assert psnr(1.0) == 0.0 and psnr(1e-3) == pytest.approx(30.0)


def test_the_image_is_the_central_square_averaged_down():
    whole = load_image("china.jpg", 427)  # the crop itself: 427 × 427
    assert whole.shape == (3, 427, 427) and 0 <= whole.min() and whole.max() <= 1
    assert torch.allclose(load_image("china.jpg", 1).reshape(3), whole.mean(dim=(1, 2)), atol=1e-12)
    with pytest.raises(ConfigError) as error:
        load_image("china.jpg", 428)
    assert error.value.key == "task.size"


def test_a_quarter_is_held_out_by_the_data_seed_not_the_run_seed():
    task = small()
    assert len(task.x_train) == 192 and len(task.x_test) == 64
    pixels = torch.cat([task.x_train, task.x_test])
    assert len(torch.unique(pixels, dim=0)) == 256 and ((pixels > 0) & (pixels < 1)).all()
    assert torch.equal(small(seed=3).x_test, task.x_test)
    assert not torch.equal(small(data_seed=1).x_test, task.x_test)


def test_mini_batches_visit_every_training_pixel_once_in_an_order_of_the_epoch():
    task = small(batch_size=50)
    batches = list(task.batches(1))
    assert [len(x) for x, _ in batches] == [50, 50, 50, 42]
    seen = torch.cat([x for x, _ in batches])
    assert torch.equal(seen[seen[:, 1].argsort(stable=True)].unique(dim=0), task.x_train.unique(dim=0))
    assert not torch.equal(torch.cat([x for x, _ in task.batches(2)]), seen)
    assert len(list(small().batches(1))) == 1


def test_per_pixel_losses_average_to_the_mse_and_subsets_select():
    task = small()
    torch.manual_seed(0)
    model = FourierMLP(2, 3, features=8, hidden_sizes=[8]).double()
    (batch,) = task.batches(1)
    each = task.loss(model, batch, reduction="none")
    assert each.shape == (192,) and torch.allclose(each.mean(), task.loss(model, batch))
    indices = torch.tensor([5, 0, 100])
    assert torch.allclose(task.loss(model, batch, indices=indices, reduction="none"), each[indices])


def test_the_fourier_features_are_fixed_by_their_seed_and_not_trained():
    torch.manual_seed(0)
    a = FourierMLP(2, 3, features=16, scale=10.0, feature_seed=7)
    torch.manual_seed(1)
    b = FourierMLP(2, 3, features=16, scale=10.0, feature_seed=7)
    assert torch.equal(a[0].b, b[0].b) and not torch.equal(a[1][0].weight, b[1][0].weight)
    assert all(p is not a[0].b for p in a.parameters()) and a[0].b.shape == (16, 2)
    gamma = FourierFeatures(2, 4, 1.0, 0)
    v = torch.tensor([[0.25, 0.5]], dtype=torch.float64)
    angle = 2 * math.pi * (gamma.b.double() @ v[0])
    assert torch.allclose(gamma.double()(v)[0], torch.cat([angle.cos(), angle.sin()]))
    assert compose_config(["task=image_fit", "task.data_seed=4"]).model.feature_seed == 4


@pytest.mark.parametrize("overrides", [[], ["task.batch_size=64"]])
@pytest.mark.parametrize("optim", ["adam", "lbfgs", "kryball", "kryball_plus", "adam_then_kryball"])
def test_a_short_run_records_the_psnr_every_epoch(optim, overrides, tmp_path):
    cfg = compose_config(["task=image_fit", f"optim={optim}", "epochs=2", "first_phase_steps=1", "task.size=16",
                          "model.features=8", "model.hidden_sizes=[8]", *overrides])
    summary = run(cfg, tmp_path)
    assert summary.status == "completed", summary.error
    assert summary.final_test_psnr is not None and summary.best_test_psnr >= summary.final_test_psnr
    assert summary.final_test_loss == pytest.approx(10 ** (-summary.final_test_psnr / 10))
    assert summary.final_l2_relative_error is None


def test_trust_krylov_is_refused_on_mini_batches_also_as_a_phase():
    for optim in ("trust_krylov", "adam_then_trust_krylov"):
        cfg = compose_config(["task=image_fit", f"optim={optim}", "task.size=16", "task.batch_size=64"])
        task = build(cfg.task, seed=0, device=torch.device("cpu"), dtype=torch.float64)
        from suite.optimisers import build_optimizer

        with pytest.raises(ConfigError, match="trust_krylov does not apply here: it is a full-batch method"):
            build_optimizer(cfg.optim, build(cfg.model).double(), task)
