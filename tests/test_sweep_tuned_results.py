"""The tuned-results file (conf/tuned/<name>.results.json, docs/sweeps.md "The results file") as one type: every
committed file loads into it and writes back byte for byte, and a file that lacks fields reads with their defaults."""

import json

from suite.config import REPO
from suite.sweeps import tuned_results


def test_every_committed_results_file_loads_into_the_type_and_writes_back_unchanged(tmp_path):
    paths = sorted((REPO / "conf" / "tuned").rglob(f"*{tuned_results.SUFFIX}"))
    assert len(paths) > 50
    for path in paths:
        results = tuned_results.read(path)
        assert isinstance(results, tuned_results.TunedResults), path.name
        assert results.format == tuned_results.FORMAT and results.optim in path.stem, path.name
        assert all(isinstance(seed, tuned_results.SeedResult) for seed in results.seeds), path.name
        tuned_results.write(tmp_path / path.name, results)
        assert (tmp_path / path.name).read_text() == path.read_text(), path.name


def test_a_file_without_some_fields_reads_with_their_defaults_and_anything_else_is_no_results(tmp_path):
    (tmp_path / "a.results.json").write_text(json.dumps({"spec": "sweeps/xor/adam.yaml", "search": {"trials": 20}}))
    results = tuned_results.read(tmp_path / "a.results.json")
    assert results.optim == "adam" and results.search.trials == 20 and results.seeds == ()
    assert results.duration_s.total is None and results.setting == tuned_results.TrainedOn()
    (tmp_path / "b.results.json").write_text("[1, 2]")
    (tmp_path / "c.results.json").write_text("{not json")
    assert tuned_results.read(tmp_path / "b.results.json") is None
    assert tuned_results.read(tmp_path / "c.results.json") is None
    assert tuned_results.read(tmp_path / "missing.results.json") is None
