"""The tasks of the experiment suite (thesis §5.2, DESIGN.md §4), one module per task.

A task owns its data or objective, its evaluation and its convergence criterion; ``train.py``
talks to every task through the same four members, documented in :mod:`tasks.base`.
``tasks.runtime`` holds the small pieces of the training loop that are not a task: the closure
convention, the run record, checkpoints, loggers and config checks.
"""
