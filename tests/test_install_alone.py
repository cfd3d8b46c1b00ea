"""The library installs alone: ``pip install`` of the checkout into a fresh virtual environment (no system
site-packages) brings kryball, torch and NumPy and nothing of the suite's (no Hydra, Optuna, pandas, …), and the
README's "Use KryBall in your own loop" example, read from the README, trains there.

The install is non-editable, the honest check: a wheel built from the checkout's sources, not a path onto them.

Torch itself is not installed into the environment afresh. Measured on a 2-core development machine, a fresh
environment's ``pip install torch`` from a local wheel takes about 50 s and writes 5.5 GB (the CUDA build and its
nvidia-* closure) every run, and where torch came from another index (the CPU build's), pip would fetch that build
from PyPI instead. What this test checks is kryball's own requirements, not torch's, so the environment is shown the
torch of the interpreter running the tests: a folder of links to the top-level files of torch and of its requirement
closure (their packages and .dist-info folders, nothing else of site-packages), on the environment's path through a
.pth file. pip there sees torch installed, as on the machine of a user who has it already, resolves kryball's
requirements against it and installs the rest (NumPy, which torch does not require) from the index.
"""

import fnmatch
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import REPO

# A fresh environment and a pip install: 16 s on an idle 2-core machine, 30 to 50 s on a busy one.
pytestmark = pytest.mark.heavy

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LIST_DISTRIBUTIONS = ("import json; from importlib import metadata; "
                      "print(json.dumps(sorted({d.metadata['Name'] for d in metadata.distributions()})))")


def requirement_closure(name: str) -> dict[str, metadata.Distribution]:
    """The installed distribution ``name`` and, recursively, those it requires, by normalised name: markers evaluated
    here, with the extras that each requirement names (torch's cuda-toolkit[cublas, …] brings nvidia-cublas …)."""
    closure, done, todo = {}, set(), [(name, frozenset())]
    while todo:
        name, extras = todo.pop()
        dist = metadata.distribution(name)
        key = canonicalize_name(dist.metadata["Name"])
        if (key, extras) in done:
            continue
        done.add((key, extras))
        closure[key] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return closure


def link_distributions(dists, folder: Path) -> None:
    """Links in ``folder`` to the top-level files and folders of each distribution's RECORD: its packages, modules and
    .dist-info, not its scripts (outside site-packages) nor its .pth files."""
    folder.mkdir()
    for dist in dists:
        assert dist.files, f"{dist.metadata['Name']} has no RECORD"
        for top in {file.parts[0] for file in dist.files} - {"..", "__pycache__"}:
            if not top.endswith(".pth") and not (folder / top).exists():
                (folder / top).symlink_to(dist.locate_file(top))


def library_sources(to: Path) -> Path:
    """The checkout's files that its distribution is built from (pyproject.toml, the README it names, the packages it
    finds), copied: building in the checkout would leave build/ and an .egg-info there, under the working tree of
    whoever runs the tests, and a stale build/ can leak files into the next wheel."""
    to.mkdir()
    for name in ("pyproject.toml", PYPROJECT["project"]["readme"]):
        shutil.copy2(REPO / name, to / name)
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for folder in REPO.iterdir():
        if (folder / "__init__.py").is_file() and any(fnmatch.fnmatch(folder.name, p) for p in patterns):
            shutil.copytree(folder, to / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    return to


def readme_loop() -> str:
    """The first Python block of the README's "Use KryBall in your own loop" section."""
    section = (REPO / "README.md").read_text().split("\n## Use KryBall in your own loop\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_library_installs_alone_and_the_readmes_loop_trains_there(tmp_path):
    venv = tmp_path / "venv"
    # No PYTHONPATH (or other PYTHON*) of the test run: the environment must see only what is installed in it.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")} | {"PYTHONNOUSERSITE": "1"}

    def run(*command, timeout=300):
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)

    def installed() -> set[str]:
        done = run(python, "-c", LIST_DISTRIBUTIONS)
        assert done.returncode == 0, done.stderr
        return {canonicalize_name(name) for name in json.loads(done.stdout)}

    try:
        done = run(sys.executable, "-m", "venv", str(venv))
        assert done.returncode == 0, done.stderr
        python = str(venv / "bin" / "python")
        bare = installed()  # what a fresh environment holds: pip (and setuptools, before Python 3.12)
        assert "torch" not in bare and "numpy" not in bare

        torch_closure = requirement_closure("torch")
        link_distributions(torch_closure.values(), tmp_path / "torch_closure")
        site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
        (Path(site) / "torch_closure.pth").write_text(f"{tmp_path / 'torch_closure'}\n")

        done = run(python, "-m", "pip", "install", "--no-input", str(library_sources(tmp_path / "src")), timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr

        added = installed() - bare
        assert {"kryball", "torch", "numpy"} <= added
        suite_extra = {canonicalize_name(Requirement(line).name)
                       for line in PYPROJECT["project"]["optional-dependencies"]["suite"]}
        assert added & suite_extra == set()
        assert added - {"kryball", "numpy"} - torch_closure.keys() == set()  # nothing beyond torch's own closure

        # The suite's packages come along (the suite runs from them), but without their extra they say so in one line.
        where_and_suite = "import importlib.util; print(importlib.util.find_spec('kryball').origin); import suite"
        done = run(python, "-c", where_and_suite)
        assert done.stdout.startswith(site), done.stdout  # the installed kryball, not the checkout's
        assert done.stderr.strip().splitlines()[-1].startswith(
            'ImportError: the KryBall suite needs its extra: pip install -e ".[suite]" (missing: hydra, ')

        (tmp_path / "loop.py").write_text(readme_loop())
        done = run(python, "loop.py")
        assert done.returncode == 0, done.stderr
        assert math.isfinite(float(done.stdout.split()[0])), done.stdout  # the example prints its final loss first
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # its links are unlinked, never followed
