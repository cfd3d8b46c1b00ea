"""Every third-party module the code imports is declared in pyproject.toml (checked by deptry), the library needs
torch and NumPy alone while the suite's packages are its extra "suite" (tests/test_install_alone.py installs it so),
and the services the tests need are provided under CI (.ci/run) rather than skipped."""

import ast
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import conftest
import suite
from suite.config import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
SUITE_EXTRA_LINE = 'ImportError: the KryBall suite needs its extra: pip install -e ".[suite]" (missing: hydra)'


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
    command = 'pip install -e ".[suite,dev]" && python -m pytest -q'
    assert ci.strip().splitlines()[-1] == command and command in (REPO / "README.md").read_text()


def third_party_imports(folder: Path) -> dict[str, list[str]]:
    """The top-level modules that the .py files under ``folder`` import, other than the standard library's and
    relative ones, each with where (``file:line``): every import statement counts, at module level or in a function."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for top in {name.partition(".")[0] for name in names} - set(sys.stdlib_module_names):
                found.setdefault(top, []).append(f"{path.relative_to(folder)}:{node.lineno}")
    return found


def test_the_import_scan_finds_third_party_imports_anywhere_in_a_file(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import os, torch.nn\nfrom . import b\nfrom collections import abc\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    import pandas as pd\n    from scipy.linalg import eigh\n")
    assert third_party_imports(tmp_path / "pkg") == {"torch": ["a.py:1"], "pandas": ["b.py:2"], "scipy": ["b.py:3"]}


def test_the_library_imports_nothing_but_the_standard_library_torch_and_numpy():
    """So that ``pip install kryball`` (torch and NumPy, pyproject.toml's dependencies) is enough to use it."""
    imports = third_party_imports(REPO / "kryball")
    assert "torch" in imports
    assert {name: where for name, where in imports.items() if name not in {"kryball", "torch", "numpy"}} == {}


def test_the_library_depends_on_torch_and_numpy_and_the_suite_on_its_extra():
    assert PROJECT["dependencies"] == ["torch", "numpy"]
    suite_extra = {canonicalize_name(Requirement(line).name) for line in PROJECT["optional-dependencies"]["suite"]}
    assert {"hydra-core", "omegaconf", "optuna", "pandas", "torchvision"} <= suite_extra


def test_every_module_the_suites_guard_checks_comes_with_its_extra():
    suite_extra = {canonicalize_name(Requirement(line).name) for line in PROJECT["optional-dependencies"]["suite"]}
    providers = metadata.packages_distributions()
    for module in suite._EXTRA_MODULES:
        assert {canonicalize_name(dist) for dist in providers.get(module, [])} & suite_extra, module


@pytest.mark.parametrize("package", ["suite", "tasks", "suite.training", "tasks.xor"])
def test_importing_the_suite_without_its_extra_fails_in_one_line_that_names_the_fix(package):
    # hydra as though it were not installed: sys.modules[name] = None makes find_spec and import both miss it.
    code = f"import sys; sys.modules['hydra'] = None; import {package}"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == SUITE_EXTRA_LINE
    assert "During handling" not in done.stderr  # one error, not a chain
