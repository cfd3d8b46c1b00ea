"""docs/extending.md's recipe for adding an optimiser, followed to the end: a config file (with how reports show
it) and a search space — no code — give it sweep specs, runs planned by the reproduction, rows in the tables,
marked beyond the thesis, and its label. The throw-away config is removed again whatever happens."""

import shutil

import pytest
from conftest import CONF_DIR

from suite.optimisers import presentation
from suite.reproduction import chapter5, run_plan, runner, tables
from suite.sweeps import generator, sources

NAME = "zz_recipe_sgd"  # sorts after every real optimiser, so its rows come last


@pytest.fixture
def recipe(tmp_path):
    """Step 1 (conf/optim/<name>.yaml) in the real config tree, which train.py composes; step 2 (its
    search space) in a copy of sweep_sources/, so the committed sources and specs stay as they are."""
    config = CONF_DIR / "optim" / f"{NAME}.yaml"
    config.write_text("# A throw-away optimiser of tests/test_extending.py.\n"
                      f"_target_: torch.optim.SGD\n_partial_: true\nname: {NAME}\nlr: 0.5\nmomentum: 0.9\n"
                      "suite:\n  label: Recipe SGD\n  family: first-order\n")
    try:
        shutil.copytree(sources.SOURCES_DIR, tmp_path / "sweep_sources")
        (tmp_path / "sweep_sources" / "spaces" / f"{NAME}.yaml").write_text(
            "about: A throw-away optimiser of tests/test_extending.py.\n"
            "parameters:\n  optim.lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0}\n")
        yield tmp_path
    finally:
        config.unlink(missing_ok=True)


@pytest.mark.usefixtures("one_thread")
def test_an_optimiser_added_by_a_config_and_a_space_reaches_every_table(recipe):
    # Step 3: generate the specs (here into a scratch sweeps/).
    sweeps = recipe / "sweeps"
    generator.write(generator.generate(sources.load(recipe / "sweep_sources")), sweeps)
    assert (sweeps / "xor" / f"{NAME}.yaml").is_file() and (sweeps / "mnist1d" / f"{NAME}.yaml").is_file()

    # Every table's setting now lists it after the thesis's rows.
    for setting in (*chapter5.TABLE_5_1, chapter5.XOR, *chapter5.TABLE_5_2):
        optimisers = setting.optimisers(sweeps)
        assert optimisers[:len(setting.optims)] == setting.optims and optimisers[-1] == NAME
        assert setting.beyond_thesis(NAME)

    # The reproduction plans and runs it like any other optimiser; the XOR table shows its row.
    plan = run_plan.plan(["xor"], recipe / "out", quick=True, seeds=1, only=[f"xor/{NAME}"],
                         tuned_dir=recipe / "tuned", sweeps_dir=sweeps)
    assert [(spec.optim, spec.tuned) for spec in plan.specs] == [(NAME, None)]
    records = runner.run_all(plan.specs, report=lambda line: None)
    assert records.cell("xor", NAME).distinct("status")[0] in ("converged", "completed")
    table = tables.convergence_table(records, [chapter5.XOR], sweeps).set_index("optimiser")
    assert list(table.index) == [NAME]
    assert table.loc[NAME, "thesis: epochs"] == tables.BEYOND
    assert f"sweeps/xor/{NAME}.yaml" in table.loc[NAME, "config"]  # how to tune it
    # Shown under its declared label, in a colour no declared optimiser uses (it declared none).
    look = presentation.look(NAME)
    assert look.label == presentation.label(NAME) == "Recipe SGD" and look.family is presentation.Family.FIRST_ORDER
    assert look.colour not in {d.colour for name, d in presentation.every_declared().items() if name != NAME}
