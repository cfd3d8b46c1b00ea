"""The step benchmark runs in a tiny configuration and writes its contract's columns."""

import pandas as pd

from suite.commands import bench_step

COLUMNS = ["optimizer", "krylov_dim", "refresh", "median_step_ms", "ratio_to_adam", "hvps_per_step",
           "loss_evals_per_step", "floor_ms", "overhead_vs_floor", "peak_memory_mb"]


def test_tiny_benchmark_writes_the_table(tmp_path):
    out = tmp_path / "bench.csv"
    bench_step.main(["--steps", "2", "--warmup", "1", "--krylov-dims", "2", "--refreshes", "1", "2",
                     "--batch-size", "16", "--curvature-batches", "4", "--out", str(out)])
    table = pd.read_csv(out)
    assert set(COLUMNS) <= set(table.columns)
    assert list(table.optimizer) == ["adam", "msgd", "lbfgs (1 eval)", "kryball", "kryball",
                                     "kryball (reuse_curvature)", "kryball (batched_hvps)",
                                     "kryball (curvature_batch=4)", "kryball_plus (Adam direction only)", "kryball_plus",
                                     "kryball_plus, adaptive Krylov dimension", "kryball_plus, batched HVPs",
                                     "kryball_plus, fresh randomness"]
    assert table.loc[table.optimizer == "adam", "ratio_to_adam"].item() == 1.0
    kryball = table[table.optimizer == "kryball"].set_index("refresh")
    # Every step refreshes: M = 2 Lanczos products + 1 for the momentum where it leaves span(Q).
    assert 2 < kryball.loc[1, "hvps_per_step"] <= 3
    # Refresh every other step: at most M + 1 on refresh steps and M + 2 on the others (a direction
    # already in span(Q) costs nothing: after a rejected step the gradient has not changed).
    assert 2.5 <= kryball.loc[2, "hvps_per_step"] <= 3.5
    assert (table.loss_evals_per_step >= 1).all() and (table.floor_ms > 0).all()
    assert (table.loc[~table.optimizer.str.startswith("kryball"), "hvps_per_step"] == 0).all()
    variants = table.set_index("optimizer")
    # Reusing T between refreshes pays only for g and z on the other step: at most M + 1 and 2.
    assert variants.loc["kryball (reuse_curvature)", "hvps_per_step"] <= (3 + 2) / 2
    # Batching changes how the products are taken, not how many.
    assert variants.loc["kryball (batched_hvps)", "hvps_per_step"] == kryball.loc[2, "hvps_per_step"]
    # A sub-batch changes what the products see (and adds its own evaluation), not how many they are.
    sub = variants.loc["kryball (curvature_batch=4)"]
    assert sub.curvature_examples == 4 and sub.loss_evals_per_step == 3
    assert sub.hvps_per_step == kryball.loc[2, "hvps_per_step"] and sub.hvp_sub_ms > 0
    assert variants.loc["kryball_plus", "curvature_examples"] == 16  # 128 examples: all of this tiny batch
    shipped = variants.loc["kryball_plus"]
    # Batched HVPs take the same products; the adaptive Krylov dimension at most its cap of 20 a refresh.
    assert variants.loc["kryball_plus, batched HVPs", "hvps_per_step"] == shipped.hvps_per_step
    assert variants.loc["kryball_plus, adaptive Krylov dimension", "hvps_per_step"] <= 20 + 4


def test_hvp_variants_are_timed_on_sub_batches(tmp_path):
    out = tmp_path / "hvps.csv"
    bench_step.main(["--hvp-variants", "16", "8", "--steps", "2", "--warmup", "0", "--batch-size", "16",
                     "--out", str(out)])
    table = pd.read_csv(out)
    assert list(table.examples) == [16, 8, 2]
    assert (table.double_backward_ms.iloc[:2] > 0).all() and (table.forward_over_reverse_ms.iloc[:2] > 0).all()
    assert (table.gauss_newton_ms.iloc[:2] > 0).all() and (table.gauss_newton_batched_per_product_ms.iloc[:2] > 0).all()
    assert table.selected_from_whole_graph_ms.iloc[2] > 0 and table.separate_forward_ms.iloc[2] > 0


def test_least_squares_rows_take_each_curvature_on_a_squared_error_loss(tmp_path):
    out = tmp_path / "bench.csv"
    bench_step.main(["--steps", "1", "--warmup", "0", "--krylov-dims", "2", "--refreshes", "1", "--batch-size", "16",
                     "--curvature-batches", "--least-squares", "--overrides", "model.hidden_sizes=[8]",
                     "--out", str(out)])
    table = pd.read_csv(out).set_index("optimizer")
    rows = ["kryball_plus, squared error, Hessian", "kryball_plus, squared error, Gauss–Newton"]
    assert list(table.index[-2:]) == rows and (table.loc[rows, "loss"] == "squared error").all()
    assert (table.drop(rows).loss == "cross-entropy").all()
    # Gauss–Newton curvature refuses a closure without residuals: that it stepped, taking products, says it had them.
    assert (table.loc[rows, "hvps_per_step"] > 0).all() and (table.loc[rows, "floor_ms"] > 0).all()
    assert (table.overrides == "model.hidden_sizes=[8]").all()
