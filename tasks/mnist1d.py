"""MNIST-1D (Greydanus & Kobak, 2020; thesis §5.2.4): 40-sample signals of the ten digits.

Generated procedurally with the ``mnist1d`` package's ``make_dataset`` and its official arguments
(``get_dataset_args()``: 5000 samples, 4000/1000 split, seed 42) — never downloaded
(``get_dataset`` would download, docs/design.md §9). ``num_samples`` may be lowered for quick tests;
the official value is the default. ``validation_fraction`` (default 0.1 in ``conf/task/mnist1d.yaml``:
400 of the 4000 training samples, drawn by ``split_seed``) is held out for validation
(:mod:`tasks.classification`); 0 trains on all 4000, as the thesis did. ``make_dataset`` reseeds Python's and NumPy's global RNGs, so
their states are restored afterwards; the generated set is cached per process.
"""

import functools
import random

import numpy as np
import torch

from tasks.classification import ClassificationTask


@functools.cache
def generate(num_samples: int) -> dict:
    from mnist1d.data import get_dataset_args, make_dataset  # imported late: it pulls in matplotlib

    args = get_dataset_args()
    args.num_samples = num_samples
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return {key: data[key] for key in ("x", "y", "x_test", "y_test")}


class MNIST1D(ClassificationTask):
    def __init__(self, seed: int, device, dtype, batch_size: int = 512, num_samples: int = 5000,
                 validation_fraction: float = 0.1, split_seed: int = 0, drop_last: bool = True):
        data = generate(num_samples)
        x_train, x_test = (torch.as_tensor(data[key], dtype=dtype) for key in ("x", "x_test"))
        y_train, y_test = (torch.as_tensor(data[key], dtype=torch.long) for key in ("y", "y_test"))
        super().__init__(x_train, y_train, x_test, y_test, batch_size, seed, device, validation_fraction,
                         split_seed, drop_last)
