"""The settings of the thesis's chapter 5, declared once: each is a named constant, and the groups
that tables, figures and targets draw are tuples of them.

A table's setting is named after its task's sweep folder (``sweeps/<setting>/``), so the tuned
config of a cell is ``conf/tuned/<setting>_<sweep optim>.yaml`` (written by ``scripts/sweep.py``). A
cell without one runs the optimiser's defaults and is marked untuned, never refused.

Budgets (thesis §5.2.2–5.2.4): Table 5.1 2000 epochs, XOR 100, MNIST-1D 100, CIFAR-10 40; the
thesis states no number of seeds, so the full protocol uses 5 (3 on CIFAR-10, where one run takes
hours; 3 per studied value in Fig. 5.5/5.7; 10 XOR and 5 MNIST-1D runs for the §5.4
reconstruction error, which the thesis reports no numbers for). ``--quick`` keeps every budget
that is cheap on a 2-core CPU (the function tasks take seconds) and cuts seeds and the
MNIST-1D/CIFAR-10 epochs; ``run_plan.describe`` says exactly what ran.
"""
from __future__ import annotations

from suite.reproduction.setting import Budget, Setting
from suite.sweeps.thesis_protocol import WHOLE_TRAINING_SET

# The thesis's data for the image tasks: no validation split, every batch (§5.2.4), so that these
# settings reproduce the thesis protocol's runs; the comparison protocol drops it.
THESIS_DATA = WHOLE_TRAINING_SET

# The folder under conf/tuned/ the thesis protocol's cells read their tuned configs from
# (``run_plan.tuned_name`` is the rule): the thesis-protocol sweeps' winners (``scripts/sweep.py
# --protocol thesis`` writes there), kept apart from the default protocol's in conf/tuned/ itself.
TUNED_FROM = "thesis"
FUNCTION_OPTIMS = ("msgd", "adam", "lbfgs", "kryball")  # Table 5.1's rows
IMAGE_OPTIMS = ("adam", "msgd", "kryball")  # Table 5.2's rows (§5.3.3: no LBFGS, "too expensive")


def _function_setting(name: str, label: str, experiment: str) -> Setting:
    # 2000 one-step epochs take seconds here, so --quick keeps the thesis budget and cuts seeds.
    return Setting(name, label, (f"experiment={experiment}",), FUNCTION_OPTIMS, Budget(5), Budget(3), 2000,
                   adds_swept_optimisers=True, tuned_from=TUNED_FROM)


# Table 5.1 (§5.3.1): epochs until convergence on five function problems.
ROSENBROCK_U11 = _function_setting("rosenbrock_u11", "Rosenbrock U[1, 1]", "table5_1_rosenbrock_u11")
ROSENBROCK_U01 = _function_setting("rosenbrock_u01", "Rosenbrock U[0, 1]", "table5_1_rosenbrock_u01")
ROSENBROCK_U03 = _function_setting("rosenbrock_u03", "Rosenbrock U[0, 3]", "table5_1_rosenbrock_u03")
RAHIMI_RECHT_K10 = _function_setting("rahimi_recht_k10", "Rahimi–Recht κ = 10", "table5_1_rahimi_recht_k10")
RAHIMI_RECHT_K1E5 = _function_setting("rahimi_recht_k1e5", "Rahimi–Recht κ = 1e5", "table5_1_rahimi_recht_k1e5")
ROSENBROCK = (ROSENBROCK_U11, ROSENBROCK_U01, ROSENBROCK_U03)
RAHIMI_RECHT = (RAHIMI_RECHT_K10, RAHIMI_RECHT_K1E5)
TABLE_5_1 = (*ROSENBROCK, *RAHIMI_RECHT)

# §5.3.2 and Fig. 5.3: LBFGS restricted to one function evaluation per epoch.
XOR = Setting("xor", "XOR", ("experiment=fig5_3_xor",), ("msgd", "adam", "lbfgs_single", "kryball"),
              Budget(5), Budget(3), 100, adds_swept_optimisers=True, tuned_from=TUNED_FROM)

# Table 5.2 (§5.3.3): image classification.
MNIST1D = Setting("mnist1d", "MNIST-1D MLP", ("experiment=table5_2_mnist1d_mlp", *THESIS_DATA), IMAGE_OPTIMS,
                  Budget(5), Budget(2, epochs=20), 100, adds_swept_optimisers=True, tuned_from=TUNED_FROM)
CIFAR10_CNN = Setting("cifar10_cnn", "CIFAR-10 CNN", ("experiment=table5_2_cifar10_cnn", *THESIS_DATA), IMAGE_OPTIMS,
                      Budget(3), Budget(1, epochs=2), 40, needs_gpu_data=True, adds_swept_optimisers=True,
                      tuned_from=TUNED_FROM)
CIFAR10_RESNET = Setting("cifar10_resnet", "CIFAR-10 ResNet-18", ("experiment=table5_2_cifar10_resnet18", *THESIS_DATA),
                         IMAGE_OPTIMS, Budget(3), Budget(1, epochs=2), 40, needs_gpu_data=True,
                         adds_swept_optimisers=True, tuned_from=TUNED_FROM)
TABLE_5_2 = (MNIST1D, CIFAR10_CNN, CIFAR10_RESNET)

# Fig. 1.2 / 2.12 / 4.2: deterministic, so one seed; 10 steps as in conf/task/saddle.yaml. Fig. 1.2 sets
# KryBall against Adam and SGD; the thesis gives no hyperparameters for it, so all run their defaults.
SADDLE = Setting("saddle", "x² − y² from (1.5, 1.5)", ("task=saddle",), ("msgd", "adam", "kryball"), Budget(1),
                 Budget(1), 10, tunable=False)

# Fig. 5.5 (§5.3.4): KryBall on MNIST-1D over the sweep ranges of M and r_refresh (§5.2.5); Fig. 5.7 (§5.4):
# by activation.
ONE_TO_TEN = tuple(map(str, range(1, 11)))
SENSITIVITY_KRYLOV_DIM = Setting(
    "sensitivity_krylov_dim", "KryBall on MNIST-1D, Krylov dimension M", ("experiment=fig5_5_krylov_dim", *THESIS_DATA),
    ("kryball",), Budget(3), Budget(1, epochs=20), 100, vary=("optim.krylov_dim", ONE_TO_TEN), tunable=False)
SENSITIVITY_REFRESH = Setting(
    "sensitivity_refresh", "KryBall on MNIST-1D, refresh rate r", ("experiment=fig5_5_refresh", *THESIS_DATA),
    ("kryball",), Budget(3), Budget(1, epochs=20), 100, vary=("optim.refresh", ONE_TO_TEN), tunable=False)
ACTIVATIONS = Setting(
    "activations", "KryBall on MNIST-1D by activation", ("experiment=fig5_7_activations", *THESIS_DATA), ("kryball",),
    Budget(3), Budget(1, epochs=20), 100, vary=("model.activation", ("relu", "softplus", "tanh", "gelu")),
    tunable=False)

# Fig. 5.6 (§5.4): "the MNIST-1D MLP model with SGD" — plain SGD (momentum 0), its last state checkpointed.
LANDSCAPE = Setting("landscape", "MNIST-1D MLP trained with SGD",
                    ("experiment=table5_2_mnist1d_mlp", "optim.momentum=0.0", "checkpoint=true", *THESIS_DATA), ("msgd",),
                    Budget(1), Budget(1, epochs=20), 100, tunable=False)

# §5.4, eqs 5.5–5.12: KryBall (defaults) runs whose start and checkpointed end are analysed by
# reconstruction.py — the thesis's XOR MLP (105 parameters), and the MNIST-1D MLP narrowed to
# 40-16-16-10 (1,098 parameters) so that its dense Hessian takes seconds.
RECONSTRUCTION_XOR = Setting("reconstruction_xor", "KryBall on the XOR MLP 2-8-8-1",
                             ("experiment=fig5_3_xor", "checkpoint=true"), ("kryball",), Budget(10), Budget(5), 100,
                             tunable=False)
RECONSTRUCTION_MNIST1D = Setting("reconstruction_mnist1d", "KryBall on MNIST-1D, MLP 40-16-16-10",
                                 ("experiment=table5_2_mnist1d_mlp", "model.hidden_sizes=[16,16]", "checkpoint=true",
                                  *THESIS_DATA),
                                 ("kryball",), Budget(5), Budget(2, epochs=20), 100, tunable=False)
RECONSTRUCTION = (RECONSTRUCTION_XOR, RECONSTRUCTION_MNIST1D)
SENSITIVITY = (SENSITIVITY_KRYLOV_DIM, SENSITIVITY_REFRESH, *RECONSTRUCTION)  # Fig. 5.5, and how well M carries SFN
