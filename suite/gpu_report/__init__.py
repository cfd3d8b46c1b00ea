"""The parts of the GPU report that are no existing command (``scripts/gpu_report.py``; docs/performance.md,
"A GPU report in one command"): the selection of the tests that want CUDA (:mod:`.cuda_tests`, a pytest plugin),
``DistributedKryBall`` on a group of this machine's devices (:mod:`.distributed`), a ``torch.compile``'d model
inside KryBall's closure (:mod:`.compiled`) and CIFAR-10 files of generated images (:mod:`.cifar_files`). Each of
the first three runs as ``python -m suite.gpu_report.<part>``, in a process of its own, so that the report can
stop it at its time limit.
"""
