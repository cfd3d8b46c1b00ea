"""Image fitting: regress a photograph's RGB values from pixel coordinates (the 2-D "radiance field" task that
thesis §6.2.3 proposes; Tancik et al., NeurIPS 2020, §6 "2D image regression"), with a coordinate network
(``model=fourier_mlp``). A high-accuracy least-squares problem on a fixed data set: full batch by default
(an epoch is one step), mini-batches with ``batch_size``.

- The image: scikit-learn's sample photograph ``china.jpg`` (427 × 640, shipped with the package: nothing is
  downloaded), its central square crop downsampled to ``size`` × ``size`` by area averaging, RGB in [0, 1].
- Coordinates: pixel centres in [0, 1]², ((column + ½) / size, (row + ½) / size).
- Held out: a random ``1 − train_fraction`` of the pixels (25 %), drawn by ``data_seed`` — the same for every run
  seed. Scattered held-out pixels test the fit between training pixels everywhere, and leave 75 % of the pixels
  to fit; Tancik et al.'s regular sub-grid (train on every other pixel) would keep a quarter, and its held-out
  pixels all sit at the same half-pixel offsets of the training lattice.
- Loss: mean squared error over the training pixels and the three channels (``reduction="none"``: one per pixel,
  the mean of its channels); ``test_loss`` the same on the held-out pixels, and ``test_psnr`` = 10 log₁₀(1 / MSE)
  in dB (a peak value of 1), Tancik et al.'s metric.
- Mini-batches: each epoch visits the training pixels once in an order drawn from (seed, epoch), the last batch
  possibly smaller; ``train_loss`` is then the mean of the step losses, as for the classification tasks
  (tasks/base.py), and the exact training MSE with the full batch.
"""

import math

import torch
import torch.nn.functional as F

from suite.errors import ConfigError
from tasks.base import Task, epoch_generator, least_squares_loss, select


def load_image(name: str, size: int) -> torch.Tensor:
    """The sample image ``name`` of scikit-learn, its central square averaged down to ``size`` × ``size``
    (3 × size × size, float64 in [0, 1])."""
    from sklearn.datasets import load_sample_image  # scikit-learn only where an image is fitted

    pixels = torch.from_numpy(load_sample_image(name).copy()).permute(2, 0, 1).to(torch.float64) / 255
    height, width = pixels.shape[1:]
    side = min(height, width)
    if not 1 <= size <= side:
        raise ConfigError("task.size", f"must be in [1, {side}] (the image's shorter side), got {size!r}")
    top, left = (height - side) // 2, (width - side) // 2
    square = pixels[:, top:top + side, left:left + side]
    return F.interpolate(square[None], size=(size, size), mode="area")[0]  # area averaging


def pixel_centres(size: int) -> torch.Tensor:
    """(x, y) of every pixel's centre in [0, 1]², row by row (size² × 2)."""
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    rows, columns = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([columns.reshape(-1), rows.reshape(-1)], dim=1)


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of an error ``mse`` on values in [0, 1]: 10 log₁₀(1 / mse) (∞ for 0)."""
    return math.inf if mse == 0 else -10 * math.log10(mse)


class ImageFit(Task):
    least_squares = True  # loss(..., reduction="residuals"): tasks/base.py

    def __init__(self, seed: int, device, dtype, image: str = "china.jpg", size: int = 64,
                 train_fraction: float = 0.75, data_seed: int = 0, batch_size: int | None = None):
        if not 0 < train_fraction < 1:
            raise ConfigError("task.train_fraction", f"must be in (0, 1), got {train_fraction!r}")
        rgb = load_image(image, size).reshape(3, -1).T  # one row per pixel
        coordinates = pixel_centres(size)
        order = torch.randperm(size * size, generator=torch.Generator().manual_seed(data_seed))
        n_train = round(train_fraction * size * size)
        if not 1 <= n_train < size * size:
            raise ConfigError("task.train_fraction", f"{train_fraction} of {size * size} pixels leaves no pixel "
                                                     "to train on or to hold out")
        train, test = order[:n_train].sort().values, order[n_train:].sort().values
        self.x_train, self.y_train = coordinates[train].to(device, dtype), rgb[train].to(device, dtype)
        self.x_test, self.y_test = coordinates[test].to(device, dtype), rgb[test].to(device, dtype)
        self.seed, self.batch_size = seed, batch_size

    def batches(self, epoch: int):
        if self.batch_size is None:
            yield self.x_train, self.y_train
            return
        order = torch.randperm(len(self.y_train), generator=epoch_generator(self.seed, epoch)).to(self.x_train.device)
        for chunk in order.split(self.batch_size):
            yield self.x_train[chunk], self.y_train[chunk]

    def loss(self, model, batch, indices=None, reduction="mean") -> torch.Tensor:
        x, y = select(batch, indices)
        # One loss per pixel, the mean over its channels: the residuals scaled by 1/√channels.
        return least_squares_loss((model(x) - y) / math.sqrt(y.shape[1]), reduction)

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        test_loss = float(self.loss(model, (self.x_test, self.y_test)))
        metrics = {"test_loss": test_loss, "test_psnr": psnr(test_loss) if math.isfinite(test_loss) else math.nan}
        if self.batch_size is None:  # full batch: the objective at the point reached (tasks/base.py)
            metrics["train_loss"] = float(self.loss(model, (self.x_train, self.y_train)))
        return metrics
