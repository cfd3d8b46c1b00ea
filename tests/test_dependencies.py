"""Every third-party module the code imports is declared in pyproject.toml (checked by deptry), and the services the
tests need are provided under CI (.ci/run) rather than skipped."""

import subprocess
import sys

import pytest

import conftest
from suite.config import REPO


def test_every_imported_module_is_declared():
    done = subprocess.run([sys.executable, "-m", "deptry", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_missing_service_skips_here_and_fails_where_services_are_required(monkeypatch):
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", False)
    with pytest.raises(pytest.skip.Exception, match="no server"):
        conftest.service_unavailable("no server")
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", True)
    with pytest.raises(pytest.fail.Exception, match="no server.*KRYBALL_REQUIRE_SERVICES"):
        conftest.service_unavailable("no server")
    with pytest.raises(pytest.fail.Exception, match="a module"):
        conftest.require_module("no_such_module_anywhere", "a module")


def test_ci_requires_the_services_and_runs_the_readmes_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert "export KRYBALL_REQUIRE_SERVICES=1" in ci and "apt-get install" in ci
    command = 'pip install -e ".[dev]" && python -m pytest -q'
    assert ci.strip().splitlines()[-1] == command and command in (REPO / "README.md").read_text()
