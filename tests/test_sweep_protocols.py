"""The sweep protocols (docs/sweeps.md, "Protocols") without training: the default protocol's
anchors, candidates and selection by the mean over re-run seeds; the thesis protocol's spec; and
the rules that decide where a tuned config is written."""
import argparse
import math
import pathlib

import pytest
import yaml

from suite.commands import sweep as sweep_command
from suite.config import REPO
from suite.sweeps import publish as publish_mod
from suite.sweeps import reruns, robust_protocol, sources, thesis_protocol, tuned_results
from suite.sweeps.backend import Backend, Search, SearchTrial, prepare
from suite.sweeps.choices import BACKENDS
from suite.sweeps.tuning_protocol import Outcome

XOR_KRYBALL = REPO / "sweeps" / "xor" / "kryball.yaml"
MNIST1D_ADAM = REPO / "sweeps" / "mnist1d" / "adam.yaml"


def test_anchors_are_the_library_defaults_then_what_the_thesis_states(tmp_path):
    none_earlier = tmp_path / "no_earlier_tuning"
    adam = robust_protocol.anchors(prepare(MNIST1D_ADAM), none_earlier)
    assert [(a.name, a.params) for a in adam] == [("defaults", {
        "optim.lr": 1e-3, "optim.betas.0": 0.9, "optim.betas.1": 0.999, "optim.eps": 1e-8})]
    kryball = robust_protocol.anchors(prepare(XOR_KRYBALL), none_earlier)
    assert [(a.name, a.params) for a in kryball] == [
        ("defaults", {"optim.krylov_dim": 5, "optim.refresh": 3}),
        ("thesis §5.3.4", {"optim.krylov_dim": 5, "optim.refresh": 1})]
    # A default outside the space is moved into it, so the anchor is a legal trial.
    msgd = robust_protocol.anchors(prepare(REPO / "sweeps" / "xor" / "msgd.yaml", ["optim.lr=5.0"]), none_earlier)
    assert msgd[0].params == {"optim.lr": 1.0, "optim.momentum": 0.9}


def test_the_thesis_protocols_winner_anchors_the_search(tmp_path):
    """An earlier tuning of the same spec (conf/tuned/thesis/) runs first too: tuning never ends below it."""
    (tmp_path / "mnist1d_adam.yaml").write_text("# @package _global_\noptim:\n  betas: [0.95, 0.995]\n  lr: 0.02\n")
    adam = robust_protocol.anchors(prepare(MNIST1D_ADAM), tmp_path)
    assert adam[-1].name.startswith("the thesis protocol's winner")
    # Its values, and the library defaults for what it did not tune (ε is searched beyond the thesis).
    assert adam[-1].params == {"optim.lr": 0.02, "optim.betas.0": 0.95, "optim.betas.1": 0.995, "optim.eps": 1e-8}
    committed = robust_protocol.anchors(prepare(MNIST1D_ADAM))  # the repository's own thesis-protocol winners
    assert any(a.name.startswith("the thesis protocol's winner") for a in committed)


def trial(number, value, anchor=None, **params):
    return SearchTrial(number, params or {"optim.lr": number / 10}, value, pathlib.Path(f"t{number}"), anchor)


def test_candidates_are_the_best_distinct_settings_and_the_defaults():
    search = Search("s", pathlib.Path("out"), (
        trial(3, 0.9), trial(5, 0.9, **{"optim.lr": 0.3}),  # the same setting twice: re-run once
        trial(4, 0.8), trial(7, 0.7), trial(0, 0.5, anchor="defaults")), "study 's'")
    chosen = robust_protocol.candidates(search, top_k=3)
    assert [t.number for t in chosen] == [3, 4, 7, 0]
    assert robust_protocol.describe(chosen) == "the best 3 settings of the search and the defaults"
    assert [t.number for t in robust_protocol.candidates(search, top_k=5)] == [3, 4, 7, 0]


class SearchStandIn(Backend):
    """A finished search: trial 1 won on the search seed, trial 0 is the defaults anchor."""

    name = "search-standin"

    def __init__(self, out: pathlib.Path):
        self.out, self.anchors = out, None

    def run(self, sweep, trials, args):
        raise AssertionError("the default protocol asks for the search, not the best run")

    def search(self, sweep, trials, args, anchors):
        self.anchors, self.trials, self.study = anchors, trials, args.study_name
        return Search(args.study_name, self.out, (
            SearchTrial(1, {"optim.krylov_dim": 9, "optim.refresh": 9}, 5.0, self.out / "trial_0001"),
            SearchTrial(2, {"optim.krylov_dim": 4, "optim.refresh": 2}, 6.0, self.out / "trial_0002"),
            SearchTrial(0, {"optim.krylov_dim": 5, "optim.refresh": 3}, 9.0, self.out / "trial_0000", "defaults"),
        ), "study 'stand-in'")


@pytest.fixture
def fake_reruns(monkeypatch):
    """Re-runs that converge at a fixed epoch per setting: the search's winner (M = 9) is slow."""
    epochs = {"9": 20, "4": 8, "5": 12}
    ran = []

    def run_all(jobs, workers=1, on_done=lambda i, d: None, folder=None):
        done = []
        for i, job in enumerate(jobs):
            ran.append(job)
            m = next(o.split("=")[1] for o in job.overrides if o.startswith("optim.krylov_dim="))
            seed = int(next(o.split("=")[1] for o in job.overrides if o.startswith("seed=")))
            summary = {"status": "converged", "epochs_to_convergence": epochs[m] + seed, "final_train_loss": 1e-4,
                       "wall_time_s": 1.0, "run_dir": str(job.run_dir), "device": "cpu"}
            done.append(reruns.Done(summary))
            on_done(i, done[-1])
        return done

    monkeypatch.setattr(reruns, "run_all", run_all)
    return ran


def test_the_best_mean_over_the_rerun_seeds_wins_not_the_search_winner(tmp_path, monkeypatch, capsys,
                                                                        fake_reruns):
    backend = SearchStandIn(tmp_path / "runs")
    monkeypatch.setitem(BACKENDS, backend.name, backend)
    assert sweep_command.main([str(XOR_KRYBALL), "--backend", backend.name, "--top-k", "2", "--seeds", "1,2",
                               "--tuned-dir", str(tmp_path / "tuned")]) == 0
    assert [a.name for a in backend.anchors] == [
        "defaults", "thesis §5.3.4", "the thesis protocol's winner (conf/tuned/thesis/xor_kryball.yaml)"]
    assert backend.trials == 20 and backend.study == "xor-kryball-robust"
    # Trials 1 and 2 (the top 2) and the defaults anchor, each on seeds 1 and 2, on the search seed's config.
    assert [(j.run_dir.name) for j in fake_reruns] == [
        "trial_0001_seed1", "trial_0001_seed2", "trial_0002_seed1", "trial_0002_seed2",
        "trial_0000_seed1", "trial_0000_seed2"]
    assert all("seed=0" not in j.overrides and "experiment=fig5_3_xor" in j.overrides for j in fake_reruns)
    tuned = yaml.safe_load((tmp_path / "tuned" / "xor_kryball.yaml").read_text())
    assert tuned == {"optim": {"krylov_dim": 4, "refresh": 2}}  # mean 9.5, not the search's winner (21.5)
    saved = tuned_results.read(tmp_path / "tuned" / "xor_kryball.results.json")
    assert saved.protocol == "robust" and saved.selection == tuned_results.Selection(
        statistic="mean", seeds=(1, 2), value=9.5, trial=2)
    assert [(s.seed, s.value, s.epochs_to_convergence) for s in saved.seeds] == [(1, 9.0, 9), (2, 10.0, 10)]
    assert [(c.trial, c.anchor, c.mean) for c in saved.candidates] == [
        (1, None, 21.5), (2, None, 9.5), (0, "defaults", 13.5)]
    assert saved.use == "python train.py experiment=fig5_3_xor optim=kryball +tuned=xor_kryball"
    assert saved.machine.cpu_count and saved.search.seed == 0
    out = capsys.readouterr().out
    assert "mean epochs_to_convergence over seeds 1, 2 = 9.5" in out and "tuned config:" in out


def test_rerun_seeds_must_not_include_the_search_seed(tmp_path, monkeypatch, capsys, fake_reruns):
    backend = SearchStandIn(tmp_path / "runs")
    monkeypatch.setitem(BACKENDS, backend.name, backend)
    assert sweep_command.main([str(XOR_KRYBALL), "--backend", backend.name, "--seeds", "0,1",
                               "--tuned-dir", str(tmp_path)]) == 2
    assert "must differ from the search seed 0" in capsys.readouterr().err and backend.anchors is None


def test_thesis_spec_is_the_thesis_sweep():
    settings = sources.load_protocol().thesis
    adam = thesis_protocol.ThesisProtocol().prepare(MNIST1D_ADAM, [])
    assert adam.spec.metric.name == "test_acc" and set(adam.spec.parameters) == {
        "optim.lr", "optim.betas.0", "optim.betas.1"}  # no eps: beyond the thesis's space
    assert (adam.spec.hyperband.eta, adam.spec.hyperband.min_iter) == (settings.hyperband.eta, 10)
    assert adam.base.task.validation_fraction == 0  # the thesis's whole training set
    xor = thesis_protocol.ThesisProtocol().prepare(XOR_KRYBALL, [])
    assert xor.spec.metric.name == "epochs_to_convergence" and "task.validation_fraction=0" not in xor.trial_overrides


def test_validation_metric_without_a_split_is_refused(tmp_path, capsys):
    assert sweep_command.main([str(MNIST1D_ADAM), "--tuned-dir", str(tmp_path), "--out", str(tmp_path / "runs"),
                               "task.validation_fraction=0"]) == 2
    assert "val_acc needs a validation split" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def outcome(value, params=None, protocol="robust", seeds=(1, 2, 3), study="xor-kryball-robust", overrides=()):
    params = params or {"optim.krylov_dim": 4, "optim.refresh": 2}
    data = {"protocol": protocol, "spec": "sweeps/xor/kryball.yaml", "study": study, "overrides": list(overrides),
            "metric": {"name": "epochs_to_convergence", "goal": "minimize"}, "params": params,
            "selection": {"statistic": "mean", "seeds": list(seeds), "value": value, "trial": 1},
            "search": {"epochs": 100}}
    return Outcome(params, value, f"mean = {value}", ("a header line",), tuned_results.TunedResults.from_json(data))


@pytest.fixture
def xor_sweep():
    return prepare(XOR_KRYBALL)


def publish(tmp_path, xor_sweep, result, replace=False):
    return publish_mod.publish(result, xor_sweep, result.results.study, result.results.protocol,
                               tmp_path, replace)


def test_a_tuned_config_is_replaced_only_by_a_comparable_better_result(tmp_path, xor_sweep):
    first = publish(tmp_path, xor_sweep, outcome(12.0))
    assert first.tuned_file.name == "xor_kryball.yaml" and "(new; " in first.message
    # tmp_path is outside conf/tuned/, where +tuned= looks: the path printed is valid from here, with what to do.
    assert f"tuned config: {tmp_path / 'xor_kryball.yaml'} " in first.message
    assert "copy it into conf/tuned/ and add +tuned=xor_kryball" in first.message
    # The same study again, nothing new: nothing written.
    assert publish(tmp_path, xor_sweep, outcome(12.0)).tuned_file is None
    # Same protocol, seeds and budget, better: replaces, and says by how much.
    better = publish(tmp_path, xor_sweep, outcome(10.0, {"optim.krylov_dim": 6, "optim.refresh": 1},
                                                  study="xor-kryball-again"))
    assert better.tuned_file.name == "xor_kryball.yaml" and "12.0 -> 10.0" in better.message
    # Worse, or tuned differently: under the study's own name; the committed one is kept, and why.
    worse = publish(tmp_path, xor_sweep, outcome(11.0, study="xor-kryball-try3"))
    assert worse.tuned_file.name == "xor_kryball_try3.yaml" and "is at least this study's" in worse.message
    quick = publish(tmp_path, xor_sweep, outcome(1.0, study="xor-kryball-robust", overrides=["epochs=3"]))
    assert quick.tuned_file.name == "xor_kryball_robust.yaml" and "overrides" in quick.message
    thesis = publish(tmp_path, xor_sweep, outcome(1.0, protocol="thesis", seeds=(0,), study="xor-kryball"))
    assert thesis.tuned_file.name == "xor_kryball_thesis.yaml" and "protocol" in thesis.message
    # --threads and --device do not change what a run computes: still comparable.
    threads = publish(tmp_path, xor_sweep, outcome(9.0, study="xor-kryball-fast", overrides=["threads=1"]))
    assert threads.tuned_file.name == "xor_kryball.yaml"
    assert yaml.safe_load((tmp_path / "xor_kryball.yaml").read_text()) == {"optim": {"krylov_dim": 4, "refresh": 2}}
    # --replace writes the committed file whatever it held.
    forced = publish(tmp_path, xor_sweep, outcome(30.0, {"optim.krylov_dim": 1, "optim.refresh": 1},
                                                  study="xor-kryball-x"), replace=True)
    assert forced.tuned_file.name == "xor_kryball.yaml" and "--replace" in forced.message
    assert tuned_results.read(tmp_path / "xor_kryball.results.json").selection.value == 30.0


def test_a_tuned_config_without_results_is_never_replaced_silently(tmp_path, xor_sweep):
    (tmp_path / "xor_kryball.yaml").write_text("# @package _global_\noptim: {krylov_dim: 10, refresh: 7}\n")
    done = publish(tmp_path, xor_sweep, outcome(12.0))
    assert done.tuned_file.name == "xor_kryball_robust.yaml"
    assert "kept" in done.message and "no results file" in done.message
    assert "krylov_dim: 10" in (tmp_path / "xor_kryball.yaml").read_text()
    header = (tmp_path / "xor_kryball_robust.yaml").read_text()
    assert "+tuned=xor_kryball_robust" in header and "xor_kryball_robust.results.json" in header


def test_results_hold_finite_numbers_and_relative_paths():
    entry = tuned_results.seed_entry(3, -math.inf, {"final_val_acc": math.nan, "run_dir": str(REPO / "outputs" / "x")})
    assert entry.value is None and entry.final_val_acc is None and entry.run_dir == "outputs/x"
    assert tuned_results.path_for(pathlib.Path("conf/tuned/mnist1d_adam.yaml")).name == "mnist1d_adam.results.json"
    assert publish_mod.own_name("mnist1d", "adam", "mnist1d-adam-robust", "robust") == "mnist1d_adam_robust"
    assert publish_mod.own_name("mnist1d", "adam", "mnist1d-adam", "thesis") == "mnist1d_adam_thesis"
    assert publish_mod.own_name("mnist1d", "adam", "my study", "robust") == "mnist1d_adam_my_study"


def test_a_tuned_config_in_the_repository_is_printed_as_a_tuned_choice(tmp_path, xor_sweep, monkeypatch):
    from suite.config import REPO
    from suite.sweeps import tuned as tuned_mod
    inside = tmp_path / "conf" / "tuned"
    monkeypatch.setattr(tuned_mod, "TUNED_DIR", inside)
    monkeypatch.chdir(tmp_path)
    published = publish(inside, xor_sweep, outcome(12.0))
    assert "tuned config: conf/tuned/xor_kryball.yaml (new; +tuned=xor_kryball)" in published.message
    assert REPO.as_posix() not in published.message
