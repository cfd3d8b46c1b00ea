"""Which runs a reproduction target needs, under the thesis protocol or its quick CPU version.

A *setting* is one column of Table 5.1, the XOR task, one block of Table 5.2, the saddle of
Fig. 1.2/4.2, one study of Fig. 5.5/5.7 or a model of the §5.4 reconstruction-error report; a
table setting's name is the sweep's task name (``sweeps/<setting>/``), so the tuned config of a
cell is ``conf/tuned/<setting>_<sweep optim>.yaml`` (written by ``scripts/sweep.py``). A cell
without one runs the optimiser's defaults and is marked untuned, never refused.

Budgets (thesis §5.2.2–5.2.4): Table 5.1 2000 epochs, XOR 100, MNIST-1D 100, CIFAR-10 40; the
thesis states no number of seeds, so the full protocol uses 5 (3 on CIFAR-10, where one run takes
hours; 3 per studied value in Fig. 5.5/5.7; 10 XOR and 5 MNIST-1D runs for the §5.4
reconstruction error, which the thesis reports no numbers for). ``--quick`` keeps every budget
that is cheap on a 2-core CPU (the function tasks take seconds) and cuts seeds and the
MNIST-1D/CIFAR-10 epochs; ``describe`` says exactly what ran.
"""
from __future__ import annotations

import dataclasses
import itertools
import pathlib

import torch

from suite.sweeps import tuned as tuned_configs
from suite.config import compose_config

TUNED_DIR = tuned_configs.TUNED_DIR
# The thesis's one-evaluation LBFGS (XOR, §5.3.2) is tuned by sweeps/xor/lbfgs.yaml.
SWEEP_OPTIM = {"lbfgs_single": "lbfgs"}


@dataclasses.dataclass(frozen=True)
class Budget:
    seeds: int
    epochs: int | None = None  # None: the preset's thesis budget


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str                   # sweep task name and run sub-folder
    label: str                  # as the thesis names it
    overrides: tuple[str, ...]  # what selects it in train.py
    optims: tuple[str, ...]     # optim= choices, in the thesis's row order
    full: Budget
    quick: Budget
    thesis_epochs: int          # the thesis budget, stated in table headers
    needs_gpu_data: bool = False  # CIFAR-10: run only where the data and a GPU are present
    # A one-at-a-time study (Fig. 5.5, 5.7): the override key and its values, one run each. Its
    # other hyperparameters stay at the defaults (§5.3.4).
    vary: tuple[str, tuple[str, ...]] | None = None
    tunable: bool = True  # False: a figure's setting with no sweep, run with the defaults by design
    # The ablation (issue 7): named variants, each a set of overrides, instead of ``vary``'s key=value.
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sweep_task: str | None = None  # whose sweeps and tuned configs the cells use (default: this setting's)

    @property
    def variants(self) -> tuple[str | None, ...]:
        if self.options:
            return tuple(name for name, _ in self.options)
        return self.vary[1] if self.vary else (None,)

    @property
    def variant_key(self) -> str | None:
        """What the variants vary, for headers and progress lines."""
        return "option" if self.options else self.vary[0] if self.vary else None

    def variant_overrides(self, variant: str | None) -> tuple[str, ...]:
        if variant is None:
            return ()
        return dict(self.options)[variant] if self.options else (f"{self.vary[0]}={variant}",)

    @property
    def task(self) -> str:
        return self.sweep_task or self.name


def _function_setting(name, label, experiment, optims=("msgd", "adam", "lbfgs", "kryball")):
    # 2000 one-step epochs take seconds here, so --quick keeps the thesis budget and cuts seeds.
    return Setting(name, label, (f"experiment={experiment}",), optims, Budget(5), Budget(3), 2000)


ONE_TO_TEN = tuple(map(str, range(1, 11)))  # the sweep range of M and r_refresh (§5.2.5)

SETTINGS = {s.name: s for s in [
    _function_setting("rosenbrock_u11", "Rosenbrock U[1, 1]", "table5_1_rosenbrock_u11"),
    _function_setting("rosenbrock_u01", "Rosenbrock U[0, 1]", "table5_1_rosenbrock_u01"),
    _function_setting("rosenbrock_u03", "Rosenbrock U[0, 3]", "table5_1_rosenbrock_u03"),
    _function_setting("rahimi_recht_k10", "Rahimi–Recht κ = 10", "table5_1_rahimi_recht_k10"),
    _function_setting("rahimi_recht_k1e5", "Rahimi–Recht κ = 1e5", "table5_1_rahimi_recht_k1e5"),
    Setting("xor", "XOR", ("experiment=fig5_3_xor",), ("msgd", "adam", "lbfgs_single", "kryball"),
            Budget(5), Budget(3), 100),
    Setting("mnist1d", "MNIST-1D MLP", ("experiment=table5_2_mnist1d_mlp",), ("adam", "msgd", "kryball"),
            Budget(5), Budget(2, epochs=20), 100),
    Setting("cifar10_cnn", "CIFAR-10 CNN", ("experiment=table5_2_cifar10_cnn",), ("adam", "msgd", "kryball"),
            Budget(3), Budget(1, epochs=2), 40, needs_gpu_data=True),
    Setting("cifar10_resnet", "CIFAR-10 ResNet-18", ("experiment=table5_2_cifar10_resnet18",),
            ("adam", "msgd", "kryball"), Budget(3), Budget(1, epochs=2), 40, needs_gpu_data=True),
    # Fig. 1.2 / 2.12 / 4.2: deterministic, so one seed; 10 steps as in conf/task/saddle.yaml. Fig. 1.2 sets
    # KryBall against Adam and SGD; the thesis gives no hyperparameters for it, so all run their defaults.
    Setting("saddle", "x² − y² from (1.5, 1.5)", ("task=saddle",), ("msgd", "adam", "kryball"), Budget(1),
            Budget(1), 10, tunable=False),
    # Fig. 5.5 (§5.3.4): KryBall on MNIST-1D over the sweep ranges of M and r_refresh; Fig. 5.7 (§5.4): by activation.
    Setting("sensitivity_krylov_dim", "KryBall on MNIST-1D, Krylov dimension M", ("experiment=fig5_5_krylov_dim",),
            ("kryball",), Budget(3), Budget(1, epochs=20), 100, vary=("optim.krylov_dim", ONE_TO_TEN), tunable=False),
    Setting("sensitivity_refresh", "KryBall on MNIST-1D, refresh rate r", ("experiment=fig5_5_refresh",),
            ("kryball",), Budget(3), Budget(1, epochs=20), 100, vary=("optim.refresh", ONE_TO_TEN), tunable=False),
    Setting("activations", "KryBall on MNIST-1D by activation", ("experiment=fig5_7_activations",), ("kryball",),
            Budget(3), Budget(1, epochs=20), 100, vary=("model.activation", ("relu", "softplus", "tanh", "gelu")),
            tunable=False),
    # Fig. 5.6 (§5.4): "the MNIST-1D MLP model with SGD" — plain SGD (momentum 0), its last state checkpointed.
    Setting("landscape", "MNIST-1D MLP trained with SGD", ("experiment=table5_2_mnist1d_mlp", "optim.momentum=0.0",
            "checkpoint=true"), ("msgd",), Budget(1), Budget(1, epochs=20), 100, tunable=False),
    # §5.4, eqs 5.5–5.12: KryBall (defaults) runs whose start and checkpointed end are analysed by
    # suite/reproduction/reconstruction.py — the thesis's XOR MLP (105 parameters), and the MNIST-1D MLP
    # narrowed to 40-16-16-10 (1,098 parameters) so that its dense Hessian takes seconds.
    Setting("reconstruction_xor", "KryBall on the XOR MLP 2-8-8-1", ("experiment=fig5_3_xor", "checkpoint=true"),
            ("kryball",), Budget(10), Budget(5), 100, tunable=False),
    Setting("reconstruction_mnist1d", "KryBall on MNIST-1D, MLP 40-16-16-10",
            ("experiment=table5_2_mnist1d_mlp", "model.hidden_sizes=[16,16]", "checkpoint=true"), ("kryball",),
            Budget(5), Budget(2, epochs=20), 100, tunable=False),
]}

TABLE_5_1 = ["rosenbrock_u11", "rosenbrock_u01", "rosenbrock_u03", "rahimi_recht_k10", "rahimi_recht_k1e5"]

# Issue 7's ablation (suite/reproduction/ablation.py): KryBall's options one at a time, each added to the
# thesis KryBall with the task's tuned M and r. Options with first-order steps use Adam at its default
# lr: no option is tuned on its own. The switch fires when ‖g‖ has fallen to 1% of its first value.
ADAM_STEPS = ("++optim.first_order=adam", "++optim.first_order_lr=0.001")
ABLATION_OPTIONS = (
    ("adam_direction", ("++optim.directions=[adam]",)),
    ("previous_step", ("++optim.directions=[previous_step]",)),
    ("momentum_from_steps", ("++optim.momentum_from=steps",)),
    ("adam_preconditioner", ("++optim.preconditioner=adam",)),
    ("fallback", (*ADAM_STEPS, "++optim.fallback=true")),
    ("switch", (*ADAM_STEPS, "++optim.switch_grad_ratio=0.01")),
    ("interleave", (*ADAM_STEPS, "++optim.interleave=4")),
    ("adaptive_refresh", ("++optim.adaptive_refresh=true",)),
)
ABLATION_TASKS = ["mnist1d", *TABLE_5_1, "xor"]
LONG_ADAM = 40  # the equal-wall-clock Adam runs this many times the epochs (KryBall+ costs 20–30× Adam here)


def _ablation_settings(base: Setting) -> list[Setting]:
    """Beside the task's own setting: one option each, the winning combination (tuned, and at its
    defaults), and on MNIST-1D tuned Adam run long enough to be read at KryBall+'s wall-clock."""
    same = dict(overrides=base.overrides, full=base.full, quick=base.quick, thesis_epochs=base.thesis_epochs,
                sweep_task=base.name)
    settings = [Setting(f"ablation_{base.name}", f"{base.label}: thesis KryBall + one option", optims=("kryball",),
                        options=ABLATION_OPTIONS, **same),
                Setting(f"kryball_plus_{base.name}", f"{base.label}: KryBall+", optims=("kryball_plus",), **same),
                # `python train.py task=… optim=kryball_plus` as it ships: a sweep on one seed can pick a lucky M, r.
                Setting(f"kryball_plus_defaults_{base.name}", f"{base.label}: KryBall+ at its defaults",
                        optims=("kryball_plus",), tunable=False, **same)]
    if base.name == "mnist1d":
        longer = {key: dataclasses.replace(same[key], epochs=LONG_ADAM * (same[key].epochs or base.thesis_epochs))
                  for key in ("full", "quick")}
        settings.append(Setting(f"adam_long_{base.name}", f"{base.label}: Adam, {LONG_ADAM}× the epochs",
                                optims=("adam",), **{**same, **longer}))
    return settings


_ABLATION_SETTINGS = {task: _ablation_settings(SETTINGS[task]) for task in ABLATION_TASKS}
SETTINGS |= {s.name: s for settings in _ABLATION_SETTINGS.values() for s in settings}
# Each ablation task and the settings of its ablation, in table order (the task's own setting first).
ABLATION = {task: [task, *(s.name for s in settings)] for task, settings in _ABLATION_SETTINGS.items()}
RECONSTRUCTION = ["reconstruction_xor", "reconstruction_mnist1d"]
SENSITIVITY = ["sensitivity_krylov_dim", "sensitivity_refresh", *RECONSTRUCTION]  # Fig. 5.5, and how well M carries SFN
TARGETS = {
    "table_5_1": TABLE_5_1,
    "xor": ["xor"],
    "table_5_2": ["mnist1d", "cifar10_cnn", "cifar10_resnet"],
    "sensitivity": SENSITIVITY,
    "activations": ["activations"],
    "figures": ["saddle", *TABLE_5_1, "xor", "mnist1d", *SENSITIVITY, "activations", "landscape"],
    "ablation": [name for names in ABLATION.values() for name in names],
}
FIGURE_TARGETS = ("sensitivity", "activations", "figures")  # the targets whose settings are drawn


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run: a setting × optimiser (× studied value) × seed, in its own directory."""
    setting: Setting
    optim: str
    seed: int
    run_dir: pathlib.Path
    overrides: tuple[str, ...]
    tuned: str | None  # the conf/tuned/ file's stem, None when untuned
    variant: str | None = None  # the studied value of setting.vary

    @property
    def sweep_command(self) -> str | None:
        if not self.setting.tunable:
            return None
        return f"python scripts/sweep.py sweeps/{self.setting.task}/{SWEEP_OPTIM.get(self.optim, self.optim)}.yaml"


@dataclasses.dataclass
class Plan:
    specs: list[RunSpec]
    not_run: dict[str, str]  # setting name -> why it cannot run here (CIFAR-10 without data or GPU)


def tuned_name(setting: str, optim: str, tuned_dir: pathlib.Path = TUNED_DIR) -> str | None:
    """The ``+tuned=`` choice for a cell if its sweep has written one, else None (untuned)."""
    file = tuned_configs.path(setting, SWEEP_OPTIM.get(optim, optim), tuned_dir)
    return file.stem if file.is_file() else None


def cifar_unavailable(setting: Setting, overrides: list[str]) -> str | None:
    """Why a CIFAR-10 setting cannot run here (no data or no GPU), or None if it can."""
    cfg = compose_config([*setting.overrides, *overrides])
    folder = pathlib.Path(cfg.task.data_dir).resolve() / "cifar-10-batches-py"
    missing = [] if folder.is_dir() else [f"no CIFAR-10 in {folder}"]
    if cfg.device == "cpu" or not torch.cuda.is_available():
        missing.append("no GPU")
    return ", ".join(missing) or None


def plan(targets: list[str], out: pathlib.Path, quick: bool, seeds: int | None = None,
         common: list[str] = (), only: list[str] = (), data_dir: str | None = None,
         tuned_dir: pathlib.Path = TUNED_DIR) -> Plan:
    """Every run the targets need, once each (settings shared by targets are run once).

    ``common`` overrides go to every run (device, threads); ``data_dir`` to the CIFAR-10 runs;
    ``only`` keeps just the cells named ``setting/optim`` (or whole settings by name).
    """
    names = list(dict.fromkeys(name for target in targets for name in TARGETS[target]))
    mode = "quick" if quick else "full"
    specs, not_run = [], {}
    for name in names:
        setting = SETTINGS[name]
        cells = [o for o in setting.optims if not only or name in only or f"{name}/{o}" in only]
        if not cells:
            continue
        own = [*common, *([f"task.data_dir={data_dir}"] if setting.needs_gpu_data and data_dir else [])]
        if setting.needs_gpu_data and (reason := cifar_unavailable(setting, own)):
            not_run[name] = reason
            continue
        budget = setting.quick if quick else setting.full
        for optim, variant in itertools.product(cells, setting.variants):
            tuned = tuned_name(setting.task, optim, tuned_dir) if setting.tunable else None
            folder = pathlib.Path(out) / "runs" / mode / name / optim / (variant or "")
            for seed in range(seeds if seeds is not None else budget.seeds):
                overrides = [*setting.overrides, f"optim={optim}", f"seed={seed}",
                             *setting.variant_overrides(variant),
                             *([f"epochs={budget.epochs}"] if budget.epochs else []),
                             *([f"+tuned={tuned}"] if tuned else []), *own]
                specs.append(RunSpec(setting, optim, seed, folder / f"seed{seed}", tuple(overrides), tuned, variant))
    return Plan(specs, not_run)


def describe(setting: Setting, quick: bool, seeds: int | None = None) -> str:
    """The protocol one setting ran under, for the table headers."""
    budget = setting.quick if quick else setting.full
    epochs = budget.epochs or setting.thesis_epochs
    n = seeds if seeds is not None else budget.seeds
    cut = f" (thesis: {setting.thesis_epochs})" if epochs != setting.thesis_epochs else " (the thesis budget)"
    key = setting.variant_key
    each = f" for each {key} in {{{', '.join(setting.variants)}}}" if key else ""
    return f"{setting.label}: {n} seed{'s' * (n != 1)} × {epochs} epochs{cut}{each}"
