"""The pieces of ``train.py``'s loop that are not a task: config checks, the closure convention,
the run record, checkpoints and loggers. Each is a small module with one job."""
