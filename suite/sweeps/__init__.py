"""The sweep engine behind ``scripts/sweep.py`` (thesis §5.2.5: Bayesian search + Hyperband).

One module per job: ``spec`` reads and checks a W&B sweep file, ``space`` translates its
parameters into Optuna distributions, ``hydra_overrides`` checks them against the real Hydra
config, ``objective`` turns one training run into one trial, ``local`` runs an Optuna study,
``wandb_backend`` runs the same file on W&B, ``tuned`` writes the winner under ``conf/tuned/``.
"""
