"""How an optimiser is shown (suite/reproduction/registry.py): known looks, and defaults — never a KeyError."""

from suite.reproduction import registry


def test_known_optimisers_keep_their_label_and_colour():
    assert registry.label("lbfgs_single") == "LBFGS (1 eval.)"
    assert registry.look("kryball").colour == "tab:red" and registry.look("msgd").colour == "tab:blue"


def test_an_unknown_optimiser_gets_its_name_and_a_colour_of_its_own():
    known_colours = {look.colour for look in registry.KNOWN.values()}
    shown = registry.Registry(registry.KNOWN)
    first, second = shown.look("zz_first"), shown.look("zz_second")
    assert (first.label, second.label) == ("zz_first", "zz_second")
    assert first.colour not in known_colours and second.colour not in known_colours
    assert first.colour != second.colour
    assert shown.look("zz_first") == first  # the same look in every figure of a report


def test_past_the_free_colours_the_line_style_changes():
    shown = registry.Registry(registry.KNOWN)
    looks = [shown.look(f"zz_{i}") for i in range(len(shown.free) + 1)]
    assert len({(look.colour, look.line_style) for look in looks}) == len(looks)
    assert looks[-1].colour == looks[0].colour and looks[-1].line_style != looks[0].line_style


def test_thesis_numbers_as_printed_and_a_dash_where_there_is_none():
    assert registry.thesis_number("rosenbrock_u11", "kryball") == "5"
    assert registry.thesis_number("rahimi_recht_k1e5", "lbfgs") == "N/A"  # the thesis's divergence mark
    assert registry.thesis_number("rosenbrock_u01", "kryball") == "—"  # left blank in the thesis
    assert registry.thesis_number("cifar10_resnet", "adam", "final_train_loss") == "7.5e-5"
    assert registry.thesis_number("rosenbrock_u11", "zz_unknown") == "—"
    assert registry.thesis_number("mnist1d", "zz_unknown", "final_test_acc") == "—"
    assert registry.thesis_number("no_such_setting", "kryball") == "—"
    assert registry.thesis_number("mnist1d", "kryball") == "—"  # Table 5.2 has a number per metric only


def test_the_learning_rate_free_peers_are_first_order_and_drawn_apart():
    peers = ("prodigy", "dadapt_adam", "dadapt_sgd", "schedule_free_adamw")
    assert {registry.family(optim) for optim in peers} == {registry.Family.FIRST_ORDER}  # they set targets
    looks = {(look.colour, look.line_style) for look in registry.KNOWN.values()}
    assert len(looks) == len(registry.KNOWN) - 1  # each drawn apart (lbfgs_single is never beside lbfgs)
