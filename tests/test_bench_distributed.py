"""scripts/bench_distributed.py in CI size: a KryBall step on one process and on two, and what travelled."""

import pytest

from suite.commands import bench_distributed


@pytest.mark.usefixtures("one_thread")
def test_one_and_two_processes_are_timed_with_their_collectives(tmp_path):
    args = bench_distributed.parse_args(["--processes", "2", "--steps", "1", "--warmup", "1", "--krylov-dim", "2",
                                         "--refresh", "2", "--batch-size", "64", "--out", str(tmp_path / "b.csv")])
    table = bench_distributed.benchmark(args)
    assert table[["optimizer", "processes"]].values.tolist() == [["KryBall", 1], ["DistributedKryBall", 2]]
    assert (table.step_ms > 0).all() and 0 < table.comm_share[1] < 1
    # A refresh step (2 Lanczos products, the momentum's) and one between refreshes (all products at once), each
    # with its loss, gradient and trial loss: (6 + 4) / 2 collectives per step.
    assert table.collectives.tolist() == [0, 5]
    assert (tmp_path / "b.csv").exists()
