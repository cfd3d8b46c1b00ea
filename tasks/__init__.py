"""The tasks of the experiment suite (thesis §5.2, docs/design.md §4), one module per task.

A task owns its data or objective, its evaluation and its convergence criterion; ``train.py``
talks to every task through the same four members, documented in :mod:`tasks.base`.
The training loop itself, the run record and everything else that is not a task live in ``suite``.
"""

# The suite's guard (suite/__init__.py): tasks/cifar10.py imports torchvision, tasks/mnist1d.py mnist1d, both of the
# extra "suite"; without it, importing any task says so in one line.
import suite  # noqa: F401
