"""The parts of ``scripts/reproduce.py`` (thesis chapter 5), one job each.

``thesis`` holds the thesis's printed numbers, ``protocol`` decides which runs a target needs
(quick or full, tuned or not, CIFAR-10 here or not), ``runner`` runs or reuses them through
``suite.training.run``, ``tables`` and ``figures`` turn the run records into tables and PNG figures, and
``landscape`` samples the loss-landscape slices of Fig. 5.6 from a finished run.
"""
