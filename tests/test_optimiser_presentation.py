"""What reports say of an optimiser (suite/optimisers/presentation.py), declared once in the ``suite:`` node of its
conf/optim file: every config declares a label and a family, the reports read them, and an optimiser without a
declaration is shown all the same — never a KeyError."""

import pathlib

import pytest
from conftest import CONF_DIR

from suite.checkpoint import comparable
from suite.config import ConfigError, compose_config
from suite.optimisers import presentation
from suite.optimisers.build import SuiteOptions
from suite.reproduction import chapter5, tables

CONFIGS = sorted(path.stem for path in (CONF_DIR / "optim").glob("*.yaml"))


@pytest.mark.parametrize("optim", CONFIGS)
def test_every_optimiser_config_declares_its_label_and_family(optim):
    declared = presentation.declared(optim)
    assert declared.label and declared.family in presentation.Family
    assert presentation.label(optim) == presentation.look(optim).label == declared.label


def test_declared_optimisers_keep_their_label_and_colour():
    assert presentation.label("lbfgs_single") == "LBFGS (1 eval.)"
    assert presentation.look("kryball").colour == "tab:red" and presentation.look("msgd").colour == "tab:blue"
    # A config built on another inherits what it does not declare: KryBall+ is KryBall's colour, dashed.
    assert presentation.look("kryball_plus") == presentation.Look("KryBall+", "tab:red", "--",
                                                                 presentation.Family.SECOND_ORDER)
    # A phased optimiser is labelled by its phases and has its later phase's family (Hydra interpolations).
    assert presentation.label("adam_then_lbfgs") == "Adam → LBFGS"
    assert presentation.family("adam_then_kryball") is presentation.Family.SECOND_ORDER
    assert presentation.label("sfn") == "saddle-free Newton"  # a closed form of the figures, no config


def test_an_undeclared_optimiser_gets_its_name_and_a_colour_of_its_own():
    declared = presentation.every_declared()
    declared_colours = {d.colour for d in declared.values() if d.colour}
    shown = presentation.Looks(declared)
    first, second = shown.look("zz_first"), shown.look("zz_second")
    assert (first.label, second.label) == ("zz_first", "zz_second") and first.family is None
    assert first.colour not in declared_colours and second.colour not in declared_colours
    assert first.colour != second.colour
    assert shown.look("zz_first") == first  # the same look in every figure of a report
    assert shown.free == ("tab:gray", "tab:cyan")


def test_past_the_free_colours_the_line_style_changes():
    shown = presentation.Looks(presentation.every_declared())
    looks = [shown.look(f"zz_{i}") for i in range(len(shown.free) + 1)]
    assert len({(look.colour, look.line_style) for look in looks}) == len(looks)
    assert looks[-1].colour == looks[0].colour and looks[-1].line_style != looks[0].line_style


def test_thesis_numbers_as_printed_and_a_dash_where_there_is_none():
    number = presentation.thesis_number
    assert number("rosenbrock_u11", "kryball", "epochs_to_convergence") == "5"
    assert number("rahimi_recht_k1e5", "lbfgs", "epochs_to_convergence") == "N/A"  # the thesis's divergence mark
    assert number("rosenbrock_u01", "kryball", "epochs_to_convergence") == "—"  # left blank in the thesis
    assert number("cifar10_resnet", "adam", "final_train_loss") == "7.5e-5"
    assert number("rosenbrock_u11", "zz_unknown", "epochs_to_convergence") == "—"
    assert number("mnist1d", "zz_unknown", "final_test_acc") == "—"
    assert number("no_such_setting", "kryball", "epochs_to_convergence") == "—"
    assert number("mnist1d", "kryball", "epochs_to_convergence") == "—"  # Table 5.2 has its three fields only
    # A config built on another replaces its numbers (a list in the YAML): the thesis ran neither on these.
    assert number("rosenbrock_u11", "lbfgs_single", "epochs_to_convergence") == "—"
    assert number("xor", "lbfgs_single", "epochs_to_convergence") == "20"
    assert number("mnist1d", "kryball_plus", "final_test_acc") == "—"


def test_the_tables_read_the_thesis_numbers_from_the_configs():
    assert tables.thesis_column(chapter5.ROSENBROCK_U11, "msgd") == "248"
    assert tables.thesis_column(chapter5.MNIST1D, "kryball", "peak_test_acc") == "0.685"


def test_the_learning_rate_free_peers_are_first_order_and_drawn_apart():
    peers = ("prodigy", "dadapt_adam", "dadapt_sgd", "schedule_free_adamw")
    assert {presentation.family(optim) for optim in peers} == {presentation.Family.FIRST_ORDER}  # they set targets
    coloured = {name: d for name, d in presentation.every_declared().items() if d.colour}
    looks = {(d.colour, d.line_style or "-") for d in coloured.values()}
    assert len(looks) == len(coloured) - 1  # each drawn apart (lbfgs_single is never beside lbfgs)


@pytest.mark.parametrize("override, key", [
    ("optim.suite.family=zeroth-order", "optim.suite.family"),
    ("+optim.suite.line_style=dotted", "optim.suite.line_style"),
    ("+optim.suite.thesis_printed=[{setting: xor, epochs_to_convergence: 5}]", "optim.suite.thesis_printed"),
    ("+optim.suite.thesis_printed=[{setting: xor, no_such_field: '5'}]", "optim.suite.thesis_printed"),
])
def test_a_bad_declaration_is_one_line_naming_its_key(override, key):
    cfg = compose_config(["optim=adam", override])
    with pytest.raises(ConfigError) as error:
        SuiteOptions.of(dict(cfg.optim.suite))
    assert error.value.key == key and "\n" not in str(error.value)


def test_how_an_optimiser_is_shown_is_no_part_of_what_a_run_computes():
    kryball = compose_config(["optim=kryball"])
    assert "suite" not in comparable(kryball)["optim"]  # a record from before the declarations is the same run
    relabelled = compose_config(["optim=kryball", "optim.suite.label=K", "optim.suite.colour=black"])
    assert comparable(relabelled) == comparable(kryball)
    muon = comparable(compose_config(["optim=muon"]))["optim"]
    assert muon["suite"] == {"parameters": "suite.optimisers.muon.hidden_weights_apart"}
    phased = comparable(compose_config(["optim=adam_then_lbfgs"]))["optim"]
    assert phased["suite"] == {"phases": ["first", "then"]} and "suite" not in phased["first"]
    assert comparable(compose_config(["optim=kryball", "optim.krylov_dim=4"])) != comparable(kryball)
