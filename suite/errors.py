"""Bad input, as one line naming the config key: the error that every layer may raise and ``train.py`` prints.

A leaf: it imports nothing, so that tasks and models, which sit below the suite (docs/design.md §1), can refuse a
value of their own config without importing the suite's machinery. ``train.py`` catches :class:`ConfigError` and
prints ``error: <key>: <message>`` on stderr with exit code 2 and no traceback (``suite.config``, which checks the
rest of the config, raises it too).
"""


class ConfigError(ValueError):
    """A config value that cannot run: ``key`` is its dotted Hydra key (``task.size``), ``message`` says why."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message
