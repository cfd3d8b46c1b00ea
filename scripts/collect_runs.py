"""Gather the run records (``summary.json``, DESIGN §5) under some folders into one table.

    python scripts/collect_runs.py outputs/multirun/reuse_curvature_mnist1d --by optim.reuse_curvature
    python scripts/collect_runs.py outputs/runs --by task optim --out runs.csv

Every run is one row; ``--by`` groups them (any summary field or dotted config key) and prints,
per group, the number of runs, how they ended, and median / mean ± std of the
numeric outcomes. Runs are read, never re-run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import pandas as pd

OUTCOMES = ["epochs_run", "epochs_to_convergence", "time_to_convergence_s", "final_train_loss", "peak_test_acc",
            "final_test_acc", "wall_time_s", "gradient_evals", "hvps", "loss_evals"]


def config_value(config: dict, dotted: str):
    """``config["optim"]["krylov_dim"]`` for ``"optim.krylov_dim"``; None where a key is missing.

    Lists and mappings come back as their JSON text, so that they can label a group.
    """
    value = config
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def summary_row(summary: dict, keys: list[str] = (), run_dir: pathlib.Path | None = None) -> dict:
    """One run's table row: the ``keys`` (summary fields or dotted config keys), how it ended, its outcomes."""
    row = {key: summary[key] if key in summary else config_value(summary.get("config", {}), key) for key in keys}
    return {**row, **{k: summary.get(k) for k in ("task", "optim", "seed", "status", *OUTCOMES)},
            "run_dir": str(run_dir) if run_dir is not None else summary.get("run_dir")}


def load_runs(folders: list[pathlib.Path], keys: list[str]) -> pd.DataFrame:
    """One row per ``summary.json`` found below ``folders``, with the ``keys`` as columns."""
    return pd.DataFrame([summary_row(json.loads(path.read_text()), keys, path.parent)
                         for folder in folders for path in sorted(folder.rglob("summary.json"))])


def summarise(runs: pd.DataFrame, by: list[str], outcomes: list[str] = OUTCOMES) -> pd.DataFrame:
    """Per group: runs, statuses, and median and mean ± std of each outcome present."""
    groups = runs.groupby(by, dropna=False, sort=True)
    table = groups.size().rename("runs").to_frame()
    table["status"] = groups["status"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))
    for column in outcomes:
        values = pd.to_numeric(runs[column], errors="coerce")
        if values.notna().any():
            stats = values.groupby([runs[key] for key in by], dropna=False).agg(["median", "mean", "std"])
            table[f"{column} median"] = stats["median"]
            table[f"{column} mean±std"] = [f"{m:.4g} ± {s:.2g}" if pd.notna(s) else f"{m:.4g}"
                                           for m, s in zip(stats["mean"], stats["std"])]
    return table.reset_index()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=pathlib.Path)
    p.add_argument("--by", nargs="+", default=["task", "optim"], help="summary fields or dotted config keys")
    p.add_argument("--show", nargs="+", choices=OUTCOMES, default=OUTCOMES, metavar="FIELD",
                   help=f"outcomes to aggregate (default all of: {' '.join(OUTCOMES)})")
    p.add_argument("--out", type=pathlib.Path, help="also write the per-run rows as CSV")
    args = p.parse_args(argv)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    runs = load_runs(args.folders, args.by)
    if runs.empty:
        print(f"error: no summary.json below {', '.join(map(str, args.folders))}", file=sys.stderr)
        return 2
    if args.out:
        runs.to_csv(args.out, index=False)
    print(summarise(runs, args.by, args.show).to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
