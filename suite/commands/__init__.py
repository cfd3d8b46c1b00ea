"""The command-line programs behind ``scripts/``: each module's ``main(argv)`` is one script.

``scripts/<name>.py`` only calls ``suite.commands.<name>.main``, as does its console script
(``kryball-<name>``, pyproject.toml), so the scripts, the tests and any other Python code run the same function.
"""
