"""The parts of ``scripts/reproduce.py`` (thesis chapter 5), one job each.

What runs:
- ``setting`` — what a setting is, and its optimisers (the thesis's rows, then those with a sweep spec);
- ``chapter5`` — the thesis's settings, declared once; ``ablation_settings`` — the ablation's, beyond the thesis;
  ``comparison_settings`` — the comparison protocol's workloads (10 seeds, 5 where expensive) and its two tracks
  (tuned; self-tuning: every optimiser at its defaults, one wall-clock budget per workload);
- ``run_plan`` — which runs a target needs (quick or full, tuned or not, CIFAR-10 here or not);
- ``runner`` — runs or reuses them through ``suite.training.run``, and returns their ``suite.records.Records``.

What is shown (every report reads runs through ``Records``; a cell is ``Records.cell``):
- ``columns`` — what a table cell says of its runs; ``tables`` — Table 5.1, XOR and Table 5.2;
- ``plots`` and ``figures`` — the figures, each declared with its settings; ``landscape`` — Fig. 5.6's slices;
- ``reconstruction`` — §5.4's reconstruction error; ``checkpointed`` — a run's model at its start and end;
- ``ablation`` — the ablation's tables and figures, with ``cost`` — its measured gradient-equivalents;
- ``comparison`` — the comparison's report: cells with 95 % confidence intervals, ``targets`` (time-to-target,
  AlgoPerf; the self-tuning track's shared with the tuned one) and ``profiles`` (Dolan–Moré performance profiles
  over the workloads); ``tuning`` — what a tuned cell's sweep cost; ``per_run`` — a report as committed per-run
  results and back (the files: ``suite.comparison_results``); ``docs_block`` — its tables in docs/results.md.
"""
