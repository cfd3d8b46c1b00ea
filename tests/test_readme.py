"""The README does what it says for a newcomer: its two set-up commands are the ones documented (the second is what
`.ci/run` runs), it stays short, and its "Use KryBall in your own loop" example runs and trains."""

import re

import torch
from conftest import REPO

README = (REPO / "README.md").read_text()
INSTALL_AND_RUN = 'pip install -e ".[suite]" && python train.py'
INSTALL_AND_TEST = 'pip install -e ".[suite,dev]" && python -m pytest -q'


def test_the_readme_holds_its_two_set_up_commands_and_ci_runs_the_second():
    commands = re.findall(r"^pip install .*$", README, re.M)
    assert commands == [INSTALL_AND_RUN, INSTALL_AND_TEST]
    assert INSTALL_AND_TEST in (REPO / ".ci" / "run").read_text()


def test_the_readme_is_short_enough_to_read_in_two_minutes():
    assert len(README.splitlines()) <= 150


def test_the_loop_example_runs_and_lowers_the_loss(capsys):
    (example,) = re.findall(r"```python\n(.*?)```", README, re.S)
    torch.manual_seed(0)
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    opt, loss = namespace["opt"], namespace["loss"]
    assert opt.totals["steps"] == 100 and opt.totals["accepted"] > 50
    chance = torch.log(torch.tensor(2.0)).item()  # cross-entropy of a guess between the two classes
    assert loss.item() < 0.1 * chance
    assert capsys.readouterr().out.startswith(f"{loss.item()} ")  # the example's print line
