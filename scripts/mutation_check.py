"""Do the tests catch a wrong trust-region or saddle-free rule? A hand-written mutation check, run on demand.

    python scripts/mutation_check.py             # every mutant, ~15 min on 2 CPU cores
    python scripts/mutation_check.py --list      # the mutants
    python scripts/mutation_check.py --only 3 5  # some of them

Each mutant is a one-token change of a rule of KryBall's step — a threshold, a factor, a
comparison, a sign — that a test claims to pin down. The check copies the committed tree
(``git worktree``, detached at HEAD, in a temporary folder), applies one mutant at a time, runs
the tests that should catch it and reports ``caught`` (a test failed) or ``SURVIVED`` (every test
passed: the tests do not see the change). The tree you work in is never touched. Exit code 1 if a
mutant survived. The last run's result is in docs/design.md ("Do the tests catch what they claim").
Not part of CI: it runs the core tests once per mutant.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
CORE_TESTS = ("tests/test_trust_region.py", "tests/test_reference.py", "tests/test_kryball_optimizer.py",
              "tests/test_krylov.py", "tests/test_kryball_options.py")


@dataclasses.dataclass(frozen=True)
class Mutant:
    file: str
    old: str  # must occur exactly once in the file
    new: str
    what: str


MUTANTS = (
    Mutant("kryball/trust_region.py", "SHRINK_BELOW = 0.25", "SHRINK_BELOW = 0.35", "shrink below ρ = 0.35"),
    Mutant("kryball/trust_region.py", "SHRINK_FACTOR = 0.25", "SHRINK_FACTOR = 0.5", "shrink to a half"),
    Mutant("kryball/trust_region.py", "EXPAND_ABOVE = 0.75", "EXPAND_ABOVE = 0.85", "expand above ρ = 0.85"),
    Mutant("kryball/trust_region.py", "EXPAND_FACTOR = 2.0", "EXPAND_FACTOR = 3.0", "expand threefold"),
    Mutant("kryball/trust_region.py", "if rho < SHRINK_BELOW:", "if rho <= SHRINK_BELOW:", "shrink at ρ = ¼ too"),
    Mutant("kryball/trust_region.py", "elif rho > EXPAND_ABOVE and hits_boundary:",
           "elif rho >= EXPAND_ABOVE and hits_boundary:", "expand at ρ = ¾ too"),
    Mutant("kryball/trust_region.py", "elif rho > EXPAND_ABOVE and hits_boundary:",
           "elif rho > EXPAND_ABOVE:", "expand on interior steps too"),
    Mutant("kryball/trust_region.py", "return max(radius, min_radius)", "return radius", "no floor on the radius"),
    Mutant("kryball/trust_region.py", "radius = min(EXPAND_FACTOR * radius, max_radius)",
           "radius = EXPAND_FACTOR * radius", "no cap on the radius"),
    Mutant("kryball/trust_region.py", "return rho > accept_ratio", "return rho >= accept_ratio",
           "accept at ρ = η"),
    Mutant("kryball/trust_region.py", "        return -math.inf\n    return actual / predicted",
           "        return math.inf\n    return actual / predicted", "a non-finite trial loss counts as perfect"),
    Mutant("kryball/trust_region.py", "return -(b @ alpha + 0.5 * alpha @ A @ alpha).item()",
           "return -(b @ alpha + alpha @ A @ alpha).item()", "predicted reduction without the ½"),
    Mutant("kryball/trust_region.py", "return predicted > eps * abs(loss)", "return predicted > 0",
           "try steps below the loss's resolution"),
    Mutant("kryball/optimizer.py", "state.momentum.mul_(options.momentum).add_(g)",
           "state.momentum.mul_(options.momentum).sub_(g)", "momentum z ← βz − g"),
    Mutant("kryball/optimizer.py", "state.momentum.mul_(options.momentum).add_(g)",
           "state.momentum.mul_(1 - options.momentum).add_(g)", "momentum decays by 1 − β"),
    Mutant("kryball/saddle_free.py", "magnitudes = ritz_values.abs().clamp_min(floor)",
           "magnitudes = ritz_values.clamp_min(floor)", "Newton's eigenvalues, not their magnitudes"),
    Mutant("kryball/saddle_free.py", "y = -V @ ((V.T @", "y = V @ ((V.T @", "the saddle-free direction uphill"),
    Mutant("kryball/krylov.py", "alphas.append((rows[j] * w).sum(dtype=torch.float64).item())",
           "alphas.append(2 * (rows[j] * w).sum(dtype=torch.float64).item())", "a wrong Lanczos diagonal"),
    Mutant("kryball/optimizer.py", "refreshed = state.since_refresh >= options.refresh",
           "refreshed = state.since_refresh > options.refresh", "refresh one step late"),
    Mutant("kryball/trust_region.py", "        trial.restore()\n", "", "a rejected step leaves θ moved"),
)


def run_tests(tree: pathlib.Path, tests: tuple[str, ...]) -> bool:
    """Whether every test passes in ``tree`` (its own code first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests], cwd=tree,
                          env=env, capture_output=True, text=True)
    return done.returncode == 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument("--only", nargs="+", type=int, metavar="N", help="run just these mutants (numbers of --list)")
    p.add_argument("--tests", nargs="+", default=list(CORE_TESTS), help="the tests that should catch them")
    args = p.parse_args(argv)
    chosen = [(i, m) for i, m in enumerate(MUTANTS, 1) if not args.only or i in args.only]
    if args.list:
        for i, mutant in chosen:
            print(f"{i:2d}. {mutant.file}: {mutant.what}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        tree = pathlib.Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), "HEAD"], cwd=REPO, check=True,
                       capture_output=True)
        try:
            if not run_tests(tree, tuple(args.tests)):
                print("the tests fail on the unmutated tree: fix that first", file=sys.stderr)
                return 2
            survived = 0
            for i, mutant in chosen:
                path = tree / mutant.file
                original = path.read_text()
                if original.count(mutant.old) != 1:
                    print(f"{i:2d}. {mutant.file}: {mutant.what}: the text to mutate is not there once; update "
                          "MUTANTS", file=sys.stderr)
                    return 2
                path.write_text(original.replace(mutant.old, mutant.new))
                start = time.perf_counter()
                caught = not run_tests(tree, tuple(args.tests))
                path.write_text(original)
                survived += not caught
                print(f"{i:2d}. {'caught  ' if caught else 'SURVIVED'} {mutant.file}: {mutant.what} "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
            print(f"{len(chosen) - survived} of {len(chosen)} mutants caught")
            return 1 if survived else 0
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
