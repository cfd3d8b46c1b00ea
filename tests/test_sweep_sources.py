"""The sweep specs are generated from sweep_sources/ (docs/sweeps.md): the committed specs are
what the sources make, a new optimiser needs only its config and its search space, and a bad
source is refused naming the file and the key."""
import shutil

import pytest
import yaml

from suite.commands import write_sweep_specs
from suite.config import REPO
from suite.sweeps import generator, sources
from suite.sweeps.sources import SourceError
from suite.sweeps.spec import load

TASKS = {"rosenbrock_u11", "rosenbrock_u01", "rosenbrock_u03", "rahimi_recht_k10",
         "rahimi_recht_k1e5", "xor", "mnist1d", "cifar10_cnn", "cifar10_resnet",
         "pinn_convection", "pinn_reaction", "pinn_wave", "image_fit", "image_fit_minibatch"}
PINN = {"pinn_convection", "pinn_reaction", "pinn_wave"}
MINI_BATCH = {"mnist1d", "cifar10_cnn", "cifar10_resnet", "image_fit_minibatch"}


def test_committed_specs_are_what_the_sources_make():
    problems = generator.differences(generator.generate(sources.load()))
    assert not problems, (f"sweeps/ differs from sweep_sources/: run `{generator.COMMAND}` and "
                          "commit sweeps/\n" + "\n".join(problems))


def test_check_command_exits_zero_on_the_committed_specs(capsys):
    assert write_sweep_specs.main(["--check"]) == 0


@pytest.fixture
def tree(tmp_path):
    """A copy of the sources and of conf/optim, and an empty specs directory."""
    shutil.copytree(REPO / "sweep_sources", tmp_path / "sweep_sources")
    shutil.copytree(REPO / "conf" / "optim", tmp_path / "conf" / "optim")
    (tmp_path / "sweeps").mkdir()
    return tmp_path


def generate(tree):
    return generator.generate(sources.load(tree / "sweep_sources", tree / "conf"))


def edit(path, change):
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_a_new_optimiser_needs_only_its_config_and_its_space(tree):
    (tree / "conf" / "optim" / "newopt.yaml").write_text("_target_: torch.optim.SGD\nname: newopt\nlr: 0.1\n")
    (tree / "sweep_sources" / "spaces" / "newopt.yaml").write_text(
        "about: A new optimiser.\n"
        "parameters:\n  optim.lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0}\n")
    generator.write(generate(tree), tree / "sweeps")
    made = sorted((tree / "sweeps").glob("*/newopt.yaml"))
    assert {p.parent.name for p in made} == TASKS
    spec = load(tree / "sweeps" / "xor" / "newopt.yaml")
    assert "optim=newopt" in spec.fixed_overrides and spec.parameters == {
        "optim.lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 1.0}}
    assert (spec.metric.name, spec.run_cap, spec.hyperband) == ("epochs_to_convergence", 20, None)


def test_a_space_without_its_optimiser_config_is_refused(tree):
    (tree / "sweep_sources" / "spaces" / "ghost.yaml").write_text(
        "about: No conf/optim/ghost.yaml.\nparameters:\n  optim.lr: {min: 0.1, max: 1.0}\n")
    with pytest.raises(SourceError, match=r"sweep_sources/spaces/ghost.yaml: .*conf/optim/ghost.yaml"):
        generate(tree)


def test_which_optimiser_runs_where_is_data(tree):
    specs = {(s.task, s.optim): s for s in generate(tree)}
    assert {t for t, o in specs if o == "lbfgs"} == TASKS - MINI_BATCH  # full_batch_only
    xor_lbfgs = yaml.safe_load(specs["xor", "lbfgs"].text)
    assert "optim=lbfgs_single" in xor_lbfgs["command"]
    # KryBall+ is swept over KryBall's space, read from spaces/kryball.yaml, not a copy.
    edit(tree / "sweep_sources" / "spaces" / "kryball.yaml",
         lambda raw: raw["parameters"]["optim.refresh"].update(max=20))
    again = {(s.task, s.optim): yaml.safe_load(s.text) for s in generate(tree)}
    assert again["xor", "kryball_plus"]["parameters"]["optim.refresh"]["max"] == 20


def optimisers_of(specs: dict, task: str) -> set[str]:
    return {o for t, o in specs if t == task}


def test_the_physics_informed_and_image_fitting_programs_name_the_optimisers_that_apply(tree):
    specs = {(s.task, s.optim): s for s in generate(tree)}
    every = {"adam", "msgd", "soap", "muon", "adahessian", "sophiah", "kryball", "kryball_plus", "prodigy",
             "dadapt_adam", "dadapt_sgd", "schedule_free_adamw"}  # first-order, Hessian-diagonal, KryBall, LR-free
    full_batch = {"lbfgs", "trust_krylov"}
    phased = {"adam_then_lbfgs", "adam_then_kryball", "adam_then_kryball_plus", "adam_then_trust_krylov"}
    for task in PINN:
        assert optimisers_of(specs, task) == every | full_batch | phased
    assert optimisers_of(specs, "image_fit") == every | full_batch
    assert optimisers_of(specs, "image_fit_minibatch") == every  # no full-batch method on mini-batches
    assert {t for t, o in specs if o in phased} == PINN and {t for t, o in specs if o == "trust_krylov"} == (
        TASKS - MINI_BATCH - {"xor"})
    wave = yaml.safe_load(specs["pinn_wave", "adam_then_kryball_plus"].text)
    assert wave["metric"] == {"name": "l2_relative_error", "goal": "minimize", "impute": "latest"}
    assert "epochs=400" in wave["command"] and list(wave["parameters"]) == ["optim.first.lr"]
    assert "optim.first.lr = 0.0001 (Rathore et al. 2024" in specs["pinn_wave", "adam_then_lbfgs"].text
    minibatch = yaml.safe_load(specs["image_fit_minibatch", "adam"].text)
    assert minibatch["metric"]["name"] == "test_psnr" and minibatch["metric"]["goal"] == "maximize"
    assert minibatch["command"][3:7] == ["task=image_fit", "task.batch_size=512", "optim=adam", "epochs=200"]


def test_write_removes_specs_no_source_makes_and_check_finds_hand_edits(tree):
    stale = tree / "sweeps" / "oldtask" / "adam.yaml"
    stale.parent.mkdir()
    stale.write_text("method: bayes\n")
    specs = generate(tree)
    assert "oldtask/adam.yaml: no source makes it" in generator.differences(specs, tree / "sweeps")
    generator.write(specs, tree / "sweeps")
    assert not stale.parent.exists() and generator.differences(specs, tree / "sweeps") == []
    hand_edited = tree / "sweeps" / "xor" / "adam.yaml"
    hand_edited.write_text(hand_edited.read_text().replace("run_cap: 20", "run_cap: 30"))
    assert generator.differences(specs, tree / "sweeps") == ["xor/adam.yaml: differs from what its sources make"]


@pytest.mark.parametrize("file, change, where, key", [
    ("spaces/adam.yaml", lambda r: r["parameters"]["optim.lr"].update(distribution="normal"),
     "spaces/adam.yaml", "parameters.optim.lr.distribution"),
    ("spaces/adam.yaml", lambda r: r.update(paramters=r.pop("parameters")), "spaces/adam.yaml", "paramters"),
    ("spaces/kryball_plus.yaml", lambda r: r.update(parameters_from="nothing"),
     "spaces/kryball_plus.yaml", "parameters_from"),
    ("spaces/lbfgs.yaml", lambda r: r.update(programs=["table5_1", "table9"]), "spaces/lbfgs.yaml", "programs"),
    ("programs/xor.yaml", lambda r: r["metric"].pop("goal"), "programs/xor.yaml", "metric.goal"),
    ("programs/xor.yaml", lambda r: r["tasks"].update(mnist1d=r["tasks"]["xor"]), "programs/xor.yaml",
     "tasks.mnist1d"),
    ("programs/table5_2.yaml", lambda r: r["tasks"]["mnist1d"].update(epochs="100"),
     "programs/table5_2.yaml", "tasks.mnist1d.epochs"),
    ("programs/table5_2.yaml", lambda r: r["tasks"]["mnist1d"].update(mini_batch=1),
     "programs/table5_2.yaml", "tasks.mnist1d.mini_batch"),
    ("spaces/lbfgs.yaml", lambda r: r.update(full_batch_only="yes"), "spaces/lbfgs.yaml", "full_batch_only"),
    ("protocol.yaml", lambda r: r["thesis"]["hyperband"].update(eta=1), "protocol.yaml", "thesis.hyperband.eta"),
    ("protocol.yaml", lambda r: r["thesis"]["hyperband"].pop("min_iter"), "protocol.yaml",
     "thesis.hyperband.min_iter"),
    ("protocol.yaml", lambda r: r["robust"].update(seeds=[1, 1]), "protocol.yaml", "robust.seeds"),
    ("protocol.yaml", lambda r: r["robust"].update(top_k=0), "protocol.yaml", "robust.top_k"),
    ("spaces/kryball.yaml", lambda r: r["anchors"][0]["values"].update({"optim.refresh": 11}),
     "spaces/kryball.yaml", "anchors.0.values.optim.refresh"),
    ("spaces/kryball.yaml", lambda r: r["anchors"][0]["values"].update({"optim.lr": 0.1}),
     "spaces/kryball.yaml", "anchors.0.values.optim.lr"),
    ("spaces/kryball.yaml", lambda r: r["anchors"][0].pop("source"), "spaces/kryball.yaml", "anchors.0.source"),
    ("spaces/adam.yaml", lambda r: r["beyond_thesis"].update({"optim.lr": r["parameters"]["optim.lr"]}),
     "spaces/adam.yaml", "beyond_thesis.optim.lr"),
])
def test_bad_sources_are_refused_naming_the_file_and_key(tree, file, change, where, key):
    edit(tree / "sweep_sources" / file, change)
    with pytest.raises(SourceError) as err:
        generate(tree)
    assert where in str(err.value) and f": {key}: " in str(err.value)


def test_beyond_thesis_parameters_and_anchors_reach_the_specs(tree):
    specs = {(s.task, s.optim): s for s in generate(tree)}
    adam = yaml.safe_load(specs["mnist1d", "adam"].text)
    assert list(adam["parameters"]) == ["optim.lr", "optim.betas.0", "optim.betas.1", "optim.eps"]
    assert adam["metric"]["name"] == "val_acc" and "early_terminate" not in adam
    assert "Beyond the thesis's space" in specs["mnist1d", "adam"].text
    kryball = specs["xor", "kryball"].text
    assert "optim.refresh = 1 (thesis §5.3.4:" in " ".join(kryball.replace("# ", "").split())
    # KryBall+ takes KryBall's space, not its thesis-stated anchors (the thesis states none for it).
    assert "optim.refresh = 1" not in specs["xor", "kryball_plus"].text


def test_space_of_finds_the_source_of_a_generated_spec_only(tmp_path):
    assert sources.space_of(REPO / "sweeps" / "mnist1d" / "adam.yaml").beyond_thesis == {
        "optim.eps": {"distribution": "log_uniform_values", "min": 1e-10, "max": 1.0}}
    assert sources.space_of(tmp_path / "mnist1d" / "adam.yaml") is None  # a hand-written spec elsewhere
    protocol = sources.load_protocol()
    assert (protocol.robust.top_k, protocol.robust.seeds) == (3, (1, 2, 3))
    assert (protocol.thesis.hyperband.eta, protocol.thesis.hyperband.min_iter) == (3, 10)
