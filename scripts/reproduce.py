"""Reproduce the thesis's tables and figures (chapter 5) by running train.py's code path,
compare the optimisers under the comparison protocol, and map where KryBall+ stands over regimes.

    python scripts/reproduce.py table_5_1 --quick            # Table 5.1, CPU-sized (3 seeds), minutes
    python scripts/reproduce.py all                          # the thesis protocol: every table and figure
    python scripts/reproduce.py xor --seeds 10               # Fig. 5.3's epochs to convergence, 10 seeds
    python scripts/reproduce.py sensitivity --quick          # Fig. 5.5 and the §5.4 reconstruction error against M
    python scripts/reproduce.py activations --quick          # Fig. 5.7
    python scripts/reproduce.py ablation --jobs 2            # KryBall's options beyond the thesis, alone and combined
    python scripts/reproduce.py table_5_2 --device cuda --data-dir /data   # with the CIFAR-10 rows
    python scripts/reproduce.py comparison --jobs 2          # Table 5.1, XOR, MNIST-1D: 10 seeds, 95 % CIs,
                                                             #   time-to-target, performance profiles
    python scripts/reproduce.py comparison --quick           # the same, CPU-sized (3 seeds; MNIST-1D 20 epochs)
    python scripts/reproduce.py comparison --track self_tuning --jobs 2   # every optimiser at its defaults, one
                                                             #   wall-clock budget per workload (AlgoPerf's self-tuning)
    python scripts/reproduce.py comparison --track self_tuning --quick    # the same, CPU-sized (2 seeds, budgets / 5)
    python scripts/reproduce.py comparison --track tuned --publish        # also commit its per-run results
    python scripts/reproduce.py comparison --track tuned --from-results --write-docs   # tables, figures and
                                                             #   docs/results.md's block, from the committed results
    python scripts/reproduce.py comparison --executor submitit_slurm --jobs 64 --executor-option partition=gpu
                                                             # every run a SLURM job (docs/scaling.md)
    python scripts/reproduce.py map --jobs 2                 # where KryBall+ stands: a heat-map and a table per track
    python scripts/reproduce.py map --quick --jobs 2         # the same, CPU-sized (1 seed, the tracks' quick budgets)
    python scripts/reproduce.py map --track self_tuning --publish   # one track, and commit its per-run results

The thesis targets (table_5_1, xor, table_5_2, the figures) keep the thesis protocol — 5 seeds,
mean ± std — so the reproduction's numbers stay reproducible; ``comparison`` re-runs Table 5.1's
problems, XOR and MNIST-1D, and the physics-informed tasks and image fitting, for every optimiser
with a sweep spec (kryball_plus and peers included) in settings of its own (comparison_<task>), 10
seeds per cell (5 for a second-order optimiser on MNIST-1D: "5 seeds: expensive"; 3 on the tasks
beyond the thesis, whose targets are declared thresholds), and writes mean ± 95 % CI cells, time-to-target (the task's
convergence criterion, or the median final validation accuracy of the best tuned first-order
baseline) and Dolan–Moré performance profiles over the workloads — on the tuned track (the default:
every cell with its tuned config, and what its tuning cost) or the self-tuning track (``--track
self_tuning``: every optimiser from its conf/optim/<name>.yaml unchanged, one wall-clock budget per
workload, the tuned track's targets). Each track writes its per-run results under OUT/per_run/, and with
``--publish`` to conf/tuned/comparison/<track>/, from which ``--from-results`` rebuilds its report.
``map`` draws KryBall+'s time to target over the best other optimiser's per regime (MNIST-1D by batch
size, Rahimi–Recht by κ, the physics-informed tasks, image fitting by batching), sharing the tracks' runs.

Every run gets its own directory, OUT/runs/<quick|full>/<setting>/<optim>/[<value>/]seed<k>, and is
reused when it already finished with the same config, so an interrupted reproduction resumes.
Cells use conf/tuned/<task>_<optim>.yaml where a sweep wrote one, else the optimiser's
defaults, marked "untuned" with the sweep that would tune them. Tables (CSV + Markdown, the
thesis's numbers beside ours) and figures (PNG) are written to OUT (default outputs/reports).
"""

import sys

from suite.commands.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
