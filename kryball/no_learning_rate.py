"""KryBall's parameter groups: dicts that say, when asked for a learning rate, that there is none.

KryBall's step length is the trust-region radius Δ, which the reduction ratio ρ adapts
every step (thesis Algorithm 4, lines 15–19; docs/design.md §2), so there is no learning
rate to set or schedule. ``torch.optim.lr_scheduler`` reads and writes
``param_groups[i]["lr"]``; on a plain dict that fails with ``KeyError: 'lr'``, which does not
say why. :class:`ParamGroup` raises :class:`NoLearningRateError` (a ``KeyError``, so code
that catches one still does) with the reason instead. ``"lr" in group`` and
``group.get("lr")`` keep their plain answers (False, None) for code that asks first.
"""

MESSAGE = ("KryBall has no learning rate: its step length is the trust-region radius, which it adapts every step "
           "from how well the model predicted the loss, so there is nothing for a learning-rate scheduler to schedule "
           "(see the README, 'Use KryBall in your own training loop')")


class NoLearningRateError(KeyError):
    """Asked for (or told to set) a learning rate KryBall does not have."""

    def __str__(self) -> str:  # a KeyError would print the repr of its argument, in quotes
        return str(self.args[0])


class ParamGroup(dict):
    """A parameter group whose ``"lr"`` is refused with :data:`MESSAGE`."""

    def __missing__(self, key):
        if key == "lr":
            raise NoLearningRateError(MESSAGE)
        raise KeyError(key)

    def __setitem__(self, key, value):
        if key == "lr":  # CyclicLR and OneCycleLR set it before they read it
            raise NoLearningRateError(MESSAGE)
        super().__setitem__(key, value)

    def setdefault(self, key, default=None):
        if key == "lr" and key not in self:
            raise NoLearningRateError(MESSAGE)
        return super().setdefault(key, default)
