"""CIFAR-10 files of generated images, in the official on-disk format (``cifar-10-batches-py``'s pickles), so that
``task=cifar10_resnet`` runs where the data set cannot be downloaded (the GPU report's training parts).

tasks/cifar10.py reads them as it reads the real files (it trusts present files without their MD5s): the
report's runs then take the real data path, at the real image size, with random pixels and labels; they
measure time, not accuracy.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

FOLDER = "cifar-10-batches-py"  # torchvision's CIFAR10.base_folder
LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar10(root: Path, per_file: int, seed: int = 0) -> Path:
    """``per_file`` random images in each of the five training batches and in the test batch, under ``root``
    (returned: the ``task.data_dir`` to give)."""
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"batch_label": name, "labels": rng.integers(0, 10, per_file).tolist(),
                 "data": rng.integers(0, 256, (per_file, 3 * 32 * 32), dtype=np.uint8),
                 "filenames": [f"{name}_{i}.png" for i in range(per_file)]}
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = {"label_names": LABELS, "num_cases_per_batch": per_file, "num_vis": 3 * 32 * 32}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return Path(root)
