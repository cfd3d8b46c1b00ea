"""Every reproduction figure (suite/reproduction/figures.py) from small synthetic run records."""

import json

import numpy as np
import pandas as pd

from suite.records import Records
from suite.reproduction import chapter5, figures, landscape, reconstruction, run_plan, runner


def fake_run(folder, epochs=5, diverged=False):
    """A run directory with the metrics of docs/design.md §5 (plus x, y) and a summary with the start point."""
    folder.mkdir(parents=True)
    loss = np.geomspace(10, 1e-3, epochs)
    if diverged:
        loss[-1] = np.inf
    pd.DataFrame({"epoch": range(1, epochs + 1), "train_loss": loss, "test_loss": loss,
                  "test_acc": np.linspace(0.1, 0.6, epochs), "wall_time_s": np.arange(1, epochs + 1) * 0.1,
                  "gradient_evals": range(1, epochs + 1), "hvps": range(0, 2 * epochs, 2),
                  "loss_evals": range(2, 2 * epochs + 2, 2), "x": np.linspace(-1.2, 1, epochs),
                  "y": np.linspace(1, 1, epochs)}).to_csv(folder / "metrics.csv", index=False)
    (folder / "summary.json").write_text(json.dumps({"config": {"model": {"start": [-1.2, 1.0]}}}))


def synthetic_records(root, extra_optims=()):
    rows = []
    for name, setting in run_plan.SETTINGS.items():
        for optim in (*setting.optims, *extra_optims):
            for variant in setting.variants:
                run_dir = root / name / optim / (variant or "") / "seed0"
                diverged = optim == "msgd" and name.startswith("rosenbrock")
                fake_run(run_dir, diverged=diverged)
                rows.append({"setting": name, "optim": optim, "variant": variant, "seed": 0,
                             "status": "diverged" if diverged else "completed", "run_dir": str(run_dir),
                             "final_train_loss": 1 / (1 + len(rows)), "peak_test_acc": 0.5})
    return Records(pd.DataFrame(rows))


def test_every_figure_is_drawn_from_records(tmp_path):
    drawn = figures.draw_all(synthetic_records(tmp_path / "runs"), tmp_path, ".quick")
    assert sorted(p.name for p in drawn) == sorted(
        f"{stem}.quick.png" for stem in ("fig_1_2_saddle", "fig_5_1_rosenbrock", "fig_5_2_rahimi_recht",
                                         "fig_5_3_xor", "fig_5_4_classification", "fig_5_5_sensitivity",
                                         "fig_5_7_activations"))
    assert all(p.stat().st_size > 10_000 for p in drawn)


def test_the_saddle_figure_has_fig_1_2s_runs_beside_newton_and_sfn(tmp_path):
    fig = figures.fig_saddle(synthetic_records(tmp_path / "runs"), [chapter5.SADDLE])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "Newton (closed form)", "saddle-free Newton (closed form)", *(f"{name} (run; ends at (1, 1))"
                                                                     for name in ("MSGD", "Adam", "KryBall"))]
    figures.plt.close(fig)


def test_reconstruction_figure_from_synthetic_errors(tmp_path):
    rows = [{"setting": name, "seed": seed, "point": point, "krylov_dim": m, "basis_size": m,
             "best_error": (0.9 - 0.1 * seed) ** m, "kryball_error": 0.95**m}
            for name in (setting.name for setting in chapter5.RECONSTRUCTION) for seed in range(2)
            for point in reconstruction.POINTS
            for m in reconstruction.DIMS]
    errors = pd.DataFrame(rows)
    path = figures.fig_reconstruction(errors, tmp_path / "reconstruction.png")
    assert path.stat().st_size > 10_000
    table = reconstruction.table(errors)
    assert len(table) == 2 * 10 and table.loc[0, "start: best in 𝒦_M"] == "0.85 [0.8–0.9]"


def test_closed_form_newton_lands_on_the_saddle_and_sfn_escapes():
    newton, sfn = figures.closed_form_saddle("newton", steps=2), figures.closed_form_saddle("sfn", steps=2)
    np.testing.assert_allclose(newton[1], [0, 0])  # Fig. 2.12: attracted to the saddle
    np.testing.assert_allclose(sfn[1:], [[0, 3], [0, 6]])  # Fig. 4.2: x minimised, y moves away


def test_only_figures_with_runs_are_drawn(tmp_path):
    records = synthetic_records(tmp_path / "runs")
    assert [p.name for p in figures.draw_all(records.where(setting="xor"), tmp_path)] == ["fig_5_3_xor.png"]


def legend(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_an_optimiser_without_a_declared_look_is_drawn_under_its_name(tmp_path):
    records = synthetic_records(tmp_path / "runs", extra_optims=("zz_newton_cg",))
    fig = figures.fig_loss_curves(records, [chapter5.XOR], title="Fig. 5.3")
    by_epoch, by_cost = fig.axes
    assert legend(by_epoch) == ["MSGD", "Adam", "LBFGS (1 eval.)", "KryBall", "zz_newton_cg"]
    lines = {line.get_label(): line for line in by_epoch.get_lines()}
    assert lines["zz_newton_cg"].get_color() not in {lines[name].get_color() for name in legend(by_epoch)[:-1]}
    assert by_cost.get_xlabel() == "gradient-equivalents (gradients + HVPs)"
    figures.plt.close(fig)
    rosenbrock = figures.fig_5_1(records, [chapter5.ROSENBROCK_U11])
    assert "zz_newton_cg" in legend(rosenbrock.axes[0])  # the trajectories too
    figures.plt.close(rosenbrock)


def test_landscape_start_is_the_runs_initialisation(tmp_path, one_thread):
    """With a learning rate far below float32 resolution the checkpointed end state is the initial
    state, so both slices must agree exactly — which holds only if the start point is rebuilt as
    suite.training.run built it."""
    overrides = ["task.num_samples=200", "task.batch_size=64", "model.hidden_sizes=[16]", "epochs=1", "optim.lr=1e-30"]
    spec = run_plan.plan(["figures"], tmp_path, quick=True, only=["landscape"], common=overrides).specs[0]
    assert runner.run_one(spec).status == "completed"
    data = landscape.slices(spec.run_dir)
    assert data["start"].shape == data["lambda"].shape == (41,)
    np.testing.assert_array_equal(data["start"], data["end"])
    assert data["start"][20] < data["start"][0]  # descending along −g at λ = 0
