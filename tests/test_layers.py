"""The layering docs/design.md §1 states, checked on what a fresh interpreter actually imports: tasks and models sit
below the suite (they may raise its one-line ``ConfigError``, from the leaf ``suite.errors``, nothing else of it);
train.py does not reach the reporting layer; and module names say which module they are."""

import ast
import json
import subprocess
import sys

from suite.config import REPO


def suite_modules_imported_by(*modules: str) -> set[str]:
    """The ``suite`` modules that importing ``modules`` loads, in a fresh interpreter (so nothing is loaded already)."""
    code = ("import importlib, json, sys\n"
            f"for name in {list(modules)!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m == 'suite' or m.startswith('suite.'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def package_modules(package: str) -> list[str]:
    return [f"{package}.{path.stem}" for path in sorted((REPO / package).glob("*.py")) if path.stem != "__init__"]


def test_tasks_and_models_import_nothing_of_the_suite_but_its_leaf_error():
    assert suite_modules_imported_by(*package_modules("tasks"), *package_modules("models")) <= {"suite", "suite.errors"}


def test_the_leaf_error_module_imports_nothing():
    tree = ast.parse((REPO / "suite" / "errors.py").read_text())
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_train_py_imports_nothing_of_the_reporting_layer():
    """``train.py``'s closing line reads optimisers' labels from their configs (suite.optimisers.presentation), not
    from the reproduction's tables and figures."""
    loaded = suite_modules_imported_by("train")
    assert "suite.training" in loaded and "suite.standing" in loaded
    assert not {name for name in loaded if name.startswith(("suite.reproduction", "suite.commands"))}


def test_no_two_modules_of_kryball_and_the_suite_share_a_name():
    """A name says which module it is (kryball/closure.py is the optimiser's closure contract, suite/step_closure.py
    the suite's closure for every optimiser), wherever it is imported or cited."""
    names = [path.stem for package in ("kryball", "suite") for path in (REPO / package).rglob("*.py")
             if path.stem != "__init__"]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
