"""The map of where KryBall+ stands over regimes (``map_settings``; docs/results.md, "Where KryBall stands: the map"):
per regime, KryBall+'s time to target against the best other optimiser's, as a table and a heat-map.

A cell's *time to target* is the comparison's (``targets.py``, AlgoPerf): per run the training wall-clock until it
first reaches its regime's target (within its budget; ∞ if never), per optimiser the low median over its finished
runs, ∞ counted (``targets.cell_time``), with the distribution-free 95 % confidence interval of the median
(``suite.records.median_interval``: exact with ∞ among the values). The *best other optimiser* is the one compared
there with the smallest such median (ties: the first in the regime's list). The *ratio* is KryBall+'s median over
theirs:

- below 1, KryBall+ is faster; above 1, slower — a log colour scale centred at 1;
- ∞: KryBall+'s median run never reaches the target, another's does;
- 0: KryBall+ reaches it and no other optimiser's median run does ("only KryBall+");
- none: neither reaches it ("none reached": the regime is beyond every optimiser's budget);
- "not run": the regime is not on this track, or it has no finished runs of KryBall+ or of any other optimiser.

:func:`cells` computes one row per cell of the grid from a times table (``targets.TIME_COLUMNS``, every run's time to
target); :func:`table` and :func:`figure` show it; :func:`write` writes ``map.<track>[.quick].png`` and
``.md/.csv`` (and ``.runs.csv``, every run behind it).
"""
from __future__ import annotations

import math
import pathlib

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd

from suite.optimisers.presentation import label
from suite.records import Records, median_interval
from suite.reproduction import tables
from suite.reproduction.columns import interval, number
from suite.reproduction.map_settings import FAMILIES, SUBJECT, Map
from suite.reproduction.plots import plt, save
from suite.reproduction.targets import Target, cell_time

MEASURE = "wall_time_s"  # time to target in training wall-clock (s): what the self-tuning budgets are
# A cell's state: a ratio, or what it shows instead of a number, by why it has none.
RATIO, NOT_RUN, NONE_REACHED, ONLY_SUBJECT = "ratio", "not run", "none reached", "only KryBall+"
CELL_COLUMNS = ("family", "value", "setting", "target", "subject_time", "subject_low", "subject_high",
                "subject_coverage", "subject_reached", "best", "best_tuned", "best_time", "best_low", "best_high",
                "best_coverage", "best_reached", "ratio", "state")


def _median(times: pd.Series) -> dict:
    """A cell's time to target: the low median, its interval, and how many runs reached the target."""
    values = [float(v) for v in times]
    low, high, coverage = median_interval(values)
    reached = sum(math.isfinite(v) for v in values)
    return {"time": cell_time(values), "low": low, "high": high, "coverage": coverage,
            "reached": f"{reached}/{len(values)}"}


def _cell(times: pd.DataFrame, optims: tuple[str, ...], tuned_track: bool) -> dict:
    """KryBall+ against the best other optimiser among ``optims``, from the regime's times; on a tuned track, whether
    that optimiser's cell was tuned."""
    by = {optim: cell for optim, cell in times.groupby("optimiser", sort=False)}
    others = [optim for optim in optims if optim != SUBJECT and optim in by]
    if SUBJECT not in by or not others:
        return {"state": NOT_RUN}
    subject = _median(by[SUBJECT][MEASURE])
    medians = {optim: _median(by[optim][MEASURE]) for optim in others}
    best = min(others, key=lambda optim: medians[optim]["time"])  # the first of equals: plan order
    tuned = bool(by[best]["tuned"].notna().any()) if tuned_track and "tuned" in by[best] else None
    mine, theirs = subject["time"], medians[best]["time"]
    if math.isinf(mine) and math.isinf(theirs):
        ratio, state = math.nan, NONE_REACHED
    elif math.isinf(theirs):
        ratio, state = 0.0, ONLY_SUBJECT
    else:
        ratio, state = mine / theirs, RATIO  # ∞ when KryBall+ never reaches it
    return {**{f"subject_{k}": v for k, v in subject.items()},
            "best": None if state == NONE_REACHED else best, "best_tuned": tuned,
            **{f"best_{k}": v for k, v in medians[best].items()}, "ratio": ratio, "state": state}


def cells(the_map: Map, found: list[Target], times: pd.DataFrame) -> pd.DataFrame:
    """One row per cell of the grid (``CELL_COLUMNS``), families and values in their order, from every run's time
    to target (``times``) and each regime's target (``found``)."""
    text = {t.workload.setting.name: t.text for t in found}
    rows = []
    for family, values in FAMILIES.items():
        for value in values:
            regime = the_map.regime(family, value)
            row = {"family": family, "value": value, "state": NOT_RUN}
            if regime is not None:
                mine = times[(times["setting"] == regime.name) & times["optimiser"].isin(regime.optims)]
                row.update(setting=regime.name, target=text.get(regime.name),
                           **_cell(mine, regime.optims, the_map.track.tuned))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


def ratio_text(row) -> str:
    """A cell's ratio as the table and the heat-map print it."""
    if row["state"] != RATIO:
        return row["state"]
    return "∞" if math.isinf(row["ratio"]) else f"{number(row['ratio'], 3)}×"


def _time(row, who: str) -> str:
    if pd.isna(row[f"{who}_time"]):
        return "—"
    return (f"{number(row[f'{who}_time'], 3)} "
            f"{interval(row[f'{who}_low'], row[f'{who}_high'], row[f'{who}_coverage'], digits=3)}, "
            f"{row[f'{who}_reached']} reached")


def best_text(row) -> str:
    if row["state"] in (NOT_RUN, NONE_REACHED) or pd.isna(row["best"]):
        return "—"
    untuned = not pd.isna(row["best_tuned"]) and not row["best_tuned"]  # a tuned track's cell without a tuned config
    return label(row["best"]) + (" (untuned)" if untuned else "")


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """The map as a table: per cell the target, KryBall+'s time to target and the best other optimiser's, each with
    the 95 % CI of its median and how many runs reached it, and the ratio."""
    median = "time to target (s): low median [95 % CI of the median], runs reached"
    return pd.DataFrame({
        "regime": frame["family"], "value": frame["value"], "target": frame["target"].fillna("—"),
        f"{label(SUBJECT)}: {median}": [_time(row, "subject") for _, row in frame.iterrows()],
        "best other optimiser": [best_text(row) for _, row in frame.iterrows()],
        f"its {median}": [_time(row, "best") if row["state"] != NONE_REACHED else "—" for _, row in frame.iterrows()],
        f"ratio {label(SUBJECT)} / best other": [ratio_text(row) for _, row in frame.iterrows()]})


# The heat-map's colours where a cell has no finite ratio.
SHADES = {NOT_RUN: "#e6e6e6", NONE_REACHED: "#bdbdbd"}
COLOURS = "RdBu_r"  # blue: KryBall+ faster (ratio < 1), red: slower


def figure(frame: pd.DataFrame, title: str, path: pathlib.Path) -> pathlib.Path:
    """The heat-map: rows the regime families, columns their values; each cell's ratio on a log colour scale centred
    at 1 (∞ and 0 at its ends), printed in the cell with the best other optimiser; "not run", "none reached" grey."""
    width = max(len(values) for values in FAMILIES.values())
    finite = frame["ratio"][np.isfinite(frame["ratio"]) & (frame["ratio"] > 0)]
    span = max(1.0, float(np.abs(np.log10(finite)).max()) if len(finite) else 1.0)  # at least 10× either way
    norm = mcolors.Normalize(-span, span)
    cmap = plt.get_cmap(COLOURS)
    fig, ax = plt.subplots(figsize=(3.1 * width + 1.8, 1.5 * len(FAMILIES) + 1.4))
    for i, (family, values) in enumerate(FAMILIES.items()):
        for j, value in enumerate(values):
            row = frame[(frame["family"] == family) & (frame["value"] == value)].iloc[0]
            coloured = row["state"] in (RATIO, ONLY_SUBJECT)  # 0 (only KryBall+) at the bottom, ∞ at the top
            where = float(norm(np.clip(np.log10(row["ratio"]), -span, span) if row["ratio"] > 0 else -span)
                          ) if coloured else 0.5
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=cmap(where) if coloured else SHADES[row["state"]],
                                       edgecolor="white", lw=2))
            versus = f"\nvs {best_text(row)}" if row["state"] == RATIO else ""
            ax.text(j + 0.5, i + 0.5, f"{value}\n{ratio_text(row)}{versus}", ha="center", va="center", fontsize=9,
                    color="white" if abs(where - 0.5) > 0.3 else "black")  # legible on the scale's dark ends
    ax.set(xlim=(0, width), ylim=(len(FAMILIES), 0), xticks=[], yticks=np.arange(len(FAMILIES)) + 0.5)
    ax.set_yticklabels(list(FAMILIES))
    ax.set_title(title, fontsize=10)
    for side in ax.spines.values():
        side.set_visible(False)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.04, pad=0.02)
    ticks = np.arange(-math.floor(span), math.floor(span) + 1)
    bar.set_ticks(ticks, labels=[f"{10.0 ** k:g}×" for k in ticks])
    bar.set_label(f"{label(SUBJECT)}'s time to target / the best other's (∞ and 0 at the ends)")
    return save(fig, path)


NOTES = [
    ("Each cell: KryBall+'s time to target (the training wall-clock until a run first reaches the regime's target, "
     "within its budget; per optimiser the low median over its runs, ∞ counted) over the best other optimiser's (the "
     "smallest such median among the optimisers compared there). Below 1 KryBall+ is faster. ∞: KryBall+'s median "
     f"run never reaches the target and another's does; `{ONLY_SUBJECT}`: the reverse; `{NONE_REACHED}`: neither; "
     f"`{NOT_RUN}`: not on this track, or no runs. `(untuned)`: the best other optimiser ran its defaults on a "
     "tuned track."),
    ("`[low–high]`: the distribution-free confidence interval of the median over seeds "
     "(suite.records.median_interval; ∞ where too few runs reached the target to bound it, its coverage named when "
     "the seeds are too few for 95 %)."),
]


def write(the_map: Map, found: list[Target], times: pd.DataFrame, runs: Records, out: pathlib.Path, suffix: str,
          lines: list[str]) -> list[pathlib.Path]:
    """``map<suffix>.png`` and ``.md/.csv/.runs.csv`` (``suffix``: ``.<track>[.quick]``); ``lines`` say how it ran."""
    frame = cells(the_map, found, times)
    title = f"Where {label(SUBJECT)} stands, {the_map.track.title}"
    compared = [f"{r.family} {r.value}: {', '.join(label(o) for o in r.optims if o != SUBJECT)}"
                for r in the_map.regimes]
    set_by = dict.fromkeys(f"{t.workload.label}: {t.text} — {t.why}" for t in found)
    notes = [*lines, *NOTES, f"Compared with KryBall+ — {'; '.join(compared)}.",
             *(f"Target of {line}." for line in set_by),
             *([f"Not run on this track: the other cells ({the_map.not_run})."] if the_map.not_run else [])]
    written = tables.write([table(frame)], runs, out, f"map{suffix}", title, notes, data=frame)
    heading = f"{title}:\nits time to target / the best other optimiser's"
    written.append(figure(frame, heading, out / f"map{suffix}.png"))
    return written
