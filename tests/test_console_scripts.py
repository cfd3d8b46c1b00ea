"""The console scripts of pyproject.toml (``kryball-sweep`` …) resolve to the programs of suite/commands/, the same
``main`` that each scripts/ shim runs."""

import ast
import importlib
import tomllib

from suite.config import REPO

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def resolve(target: str):
    module, _, attribute = target.partition(":")
    return importlib.import_module(module), attribute


def test_every_console_script_resolves_to_a_command_main():
    assert SCRIPTS
    for name, target in SCRIPTS.items():
        module, attribute = resolve(target)
        assert name.startswith("kryball-") and module.__name__.startswith("suite.commands.") and attribute == "main"
        assert callable(getattr(module, attribute)), name


def test_every_scripts_shim_of_a_command_has_its_console_script():
    """A shim is a file of scripts/ that imports a ``main`` from suite.commands (mutation_check.py is no command)."""
    shims = {}
    for path in sorted((REPO / "scripts").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("suite.commands."):
                shims[path.name] = f"{node.module}:main"
    assert shims and set(shims.values()) <= set(SCRIPTS.values())
    assert {f"kryball-{name.removesuffix('.py').replace('_', '-')}" for name in shims} == set(SCRIPTS)
