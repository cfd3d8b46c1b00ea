"""CIFAR-10 (Krizhevsky, 2009; thesis §5.2.4): 50 000 training and 10 000 test 32×32 RGB images.

Read with torchvision's ``CIFAR10`` from ``data_dir`` (which holds ``cifar-10-batches-py``);
``download=true`` lets torchvision fetch and verify the official archive. Readings and choices:

- The images are kept as bytes in memory (on the training device) and normalised per batch with
  the usual per-channel CIFAR-10 mean and standard deviation.
- No data augmentation: the thesis mentions none, and the final training losses it reports
  (Table 5.2: 7.5e-5 for ResNet-18) are out of reach with random crops and flips.
- A validation split of ``validation_fraction`` of the 50 000 training images (0.1 in the task
  configs: 5 000, drawn by ``split_seed``) is held out for sweeps to select on
  (:mod:`tasks.classification`); the test set is only reported.
- Present files are trusted without an MD5 check (the archive's checksum is still verified on
  download), so that a test can provide tiny files in the official format.
"""

from pathlib import Path

import torch
from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

from tasks.classification import ClassificationTask
from suite.errors import ConfigError

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class _PresentFilesCIFAR10(TorchvisionCIFAR10):
    """torchvision's reader with the per-file MD5s dropped (``check_integrity`` then checks presence)."""

    train_list = [[name, None] for name, _ in TorchvisionCIFAR10.train_list]
    test_list = [[name, None] for name, _ in TorchvisionCIFAR10.test_list]
    meta = {**TorchvisionCIFAR10.meta, "md5": None}


def load_split(data_dir: str, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, 32, 32) uint8 and labels (N,), or a one-line ConfigError saying what to do."""
    folder = Path(data_dir).resolve() / TorchvisionCIFAR10.base_folder
    try:
        split = _PresentFilesCIFAR10(data_dir, train=train, download=download)
    except Exception as error:  # torchvision raises RuntimeError, urllib URLError/OSError, ...
        copy = ("copy the official python batches (data_batch_1..5, test_batch, batches.meta from "
                "cifar-10-python.tar.gz) there")
        problem = (f"download failed ({error}); check the network or {copy}" if download
                   else f"files not found; set task.download=true to fetch it, or {copy}")
        raise ConfigError("task.data_dir", f"CIFAR-10 not available in {folder}: {problem}") from None
    images = torch.from_numpy(split.data).permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(split.targets, dtype=torch.long)


class CIFAR10(ClassificationTask):
    def __init__(self, seed: int, device, dtype, batch_size: int = 128, data_dir: str = "data",
                 download: bool = False, validation_fraction: float = 0.1, split_seed: int = 0,
                 drop_last: bool = True):
        x_train, y_train = load_split(data_dir, train=True, download=download)
        x_test, y_test = load_split(data_dir, train=False, download=download)
        super().__init__(x_train, y_train, x_test, y_test, batch_size, seed, device, validation_fraction,
                         split_seed, drop_last)
        self.dtype = dtype
        self.mean = torch.tensor(MEAN, device=device, dtype=dtype).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device, dtype=dtype).view(1, 3, 1, 1)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(self.dtype) / 255 - self.mean) / self.std
