"""One command that measures what a GPU run exercises and writes it up as one Markdown report (docs/performance.md,
"A GPU report in one command").

    python scripts/gpu_report.py docs/gpu_reports           # on a CUDA machine: within 8 minutes
    python scripts/gpu_report.py --quick /tmp/gpu_quick     # the CPU rehearsal, tiny sizes, about a minute

A GPU is lent to this project now and then, for minutes; they should go to measuring, not to writing scripts.
The parts, each a process of its own with its own time limit (so that a slow part cannot starve the rest; a
part over its limit is stopped, with its children, and reported as timed out):

- ``tests``: the tests that want CUDA (marked ``gpu``, or skipped for want of it: suite/gpu_report/cuda_tests.py);
- ``bench_mnist1d``, ``bench_resnet18``: the step bench (scripts/bench_step.py) on the MNIST-1D MLP and on
  ResNet-18 with a CIFAR-format synthetic batch: Adam, MSGD, one-evaluation L-BFGS, KryBall, KryBall+ with each
  curvature it offers (``--least-squares``), peak memory;
- ``hvp_variants``: one HVP taken each way the bench offers (double backward, batched, forward-over-reverse,
  compiled);
- ``main_job``, ``kryball_plus_epochs``: ``train.py task=cifar10_resnet`` with ``optim=kryball`` and with
  ``optim=kryball_plus`` for a few epochs on generated CIFAR-10 files (suite/gpu_report/cifar_files.py; no
  download), with their wall-clock;
- ``distributed``: ``DistributedKryBall`` on NCCL with the machine's GPUs (suite/gpu_report/shared_batch.py);
- ``compile``: a ``torch.compile``'d model inside KryBall's closure: it trains, or the library's refusal is
  quoted (suite/gpu_report/compiled.py).

The report (``OUT/<date>_<device>.md``) names the device, torch, CUDA, the date and the commit, lists what was
skipped, failed or timed out and why, and holds each part's tables; each part's CSV and log are in
``OUT/<date>_<device>/``. Exit code 0 once the report is written, whatever the parts did; 2 on bad arguments, and
without CUDA unless ``--quick`` (one line).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from suite.config import REPO
from suite.gpu_report.cifar_files import write_cifar10

NO_CUDA = "gpu_report: no CUDA device here; run with --quick for the CPU rehearsal"
BUDGET_S = {"full": 470.0, "quick": 600.0}  # the whole report: 8 minutes on a GPU, less the writing up
LOG_TAIL = 12  # lines of a failed part's log quoted in the report


@dataclasses.dataclass
class Part:
    """One measurement: a command run from the repository root, its time limit, and how its files become Markdown."""

    key: str
    title: str
    what: str
    command: list[str]
    limit_s: float
    render: Callable[[Part, Path], list[str]]
    skip: str | None = None  # why it does not run here
    status: str = "not run"
    seconds: float = 0.0
    log: Path | None = None

    def file(self, files: Path, suffix: str) -> Path:
        return files / f"{self.key}{suffix}"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="folder for the report (created); its files go into a folder beside it")
    p.add_argument("--quick", action="store_true", help="the same parts on the CPU at tiny sizes (about a minute)")
    p.add_argument("--only", nargs="+", metavar="PART", choices=PART_KEYS, help=f"these parts only: {PART_KEYS}")
    p.add_argument("--limit", action="append", default=[], metavar="PART=SECONDS",
                   help="another time limit for a part (repeatable)")
    p.add_argument("--budget", type=float, help="seconds for all parts together (default: 470, --quick 600)")
    args = p.parse_args(argv)
    limits = {}
    for item in args.limit:
        key, _, seconds = item.partition("=")
        try:
            limits[key] = float(seconds)
        except ValueError:
            p.error(f"--limit {item}: expected PART=SECONDS")
        if key not in PART_KEYS or limits[key] <= 0:
            p.error(f"--limit {item}: PART is one of {', '.join(PART_KEYS)}, SECONDS > 0")
    args.limits = limits
    if args.budget is not None and args.budget <= 0:
        p.error("--budget must be > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.quick and not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 2
    report = write_report(args)
    print(f"report: {report}")
    return 0


def write_report(args: argparse.Namespace) -> Path:
    """Run the parts and write the report; its path."""
    started = time.monotonic()
    facts = machine_facts(args.quick)
    stem = f"{facts['date'][:10]}_{slug(facts['device'] if not args.quick else 'cpu-quick')}"
    out = args.out.resolve()
    files = out / stem
    files.mkdir(parents=True, exist_ok=True)
    budget = args.budget or BUDGET_S["quick" if args.quick else "full"]
    with tempfile.TemporaryDirectory(prefix="gpu_report_cifar_") as data_dir:
        names = {data_dir: "CIFAR_DIR", str(out): "OUT"}  # how the report shows these paths
        parts = plan(args.quick, files, Path(data_dir))
        for part in parts:
            part.limit_s = args.limits.get(part.key, part.limit_s)
            if args.only and part.key not in args.only:
                part.status, part.skip = "not selected", "not among --only"
        if any(part.key in TRAINING_PARTS and part.skip is None for part in parts):
            write_cifar10(Path(data_dir), per_file=CIFAR_PER_FILE["quick" if args.quick else "full"])
        for part in parts:
            if part.skip is None:
                run_part(part, files, started, budget, args.quick, names)
    facts["total_s"] = time.monotonic() - started
    report = out / f"{stem}.md"
    report.write_text("\n".join(render_report(parts, facts, files, args.quick, names)) + "\n")
    return report


# --- What runs -------------------------------------------------------------------------------------------------

PART_KEYS = ["tests", "bench_mnist1d", "bench_resnet18", "hvp_variants", "main_job", "kryball_plus_epochs",
             "distributed", "compile"]
TRAINING_PARTS = ("main_job", "kryball_plus_epochs")
# Generated CIFAR-10 images per file (five training files and the test file): 5000 training images, 4500 after
# the validation split (35 steps of 128 an epoch) on the GPU, 200 in the rehearsal.
CIFAR_PER_FILE = {"full": 1000, "quick": 40}


def plan(quick: bool, files: Path, data_dir: Path) -> list[Part]:
    """The parts, with the sizes of a GPU run or of the CPU rehearsal (tiny batches, few steps, gloo, 1 process)."""
    python = sys.executable
    device = "cpu" if quick else "cuda"
    bench = [python, "scripts/bench_step.py", "--device", device]
    if quick:  # few steps of tiny batches, one thread (CI's machine has two cores)
        small = ["--steps", "2", "--warmup", "1", "--threads", "1"]
        mnist1d = [*small, "--krylov-dims", "2", "--refreshes", "1", "--batch-size", "16", "--curvature-batches", "4"]
        resnet = ["--steps", "1", "--warmup", "0", "--threads", "1", "--krylov-dims", "2", "--refreshes", "1",
                  "--batch-size", "4", "--curvature-batches", "2", "--overrides", "model.width=2"]
        hvps = ["--hvp-variants", "16", "8", "--steps", "2", "--warmup", "0", "--batch-size", "16", "--threads", "1",
                "--compile", "--compile-backend", "aot_eager"]
        training = ["device=cpu", "task.batch_size=16", "model.width=2"]
        epochs = (1, 2)
        distributed = ["--backend", "gloo", "--processes", "1", "--steps", "2", "--batch-size", "64"]
        compiled = ["--device", "cpu", "--backends", "aot_eager", "eager", "--steps", "2", "--batch-size", "64"]
        limits = dict.fromkeys(PART_KEYS, 120.0)
    else:  # the thesis KryBall (M = 5, r = 3) and the shipped KryBall+, at the tasks' batch sizes
        mnist1d = ["--krylov-dims", "5", "--refreshes", "3", "--curvature-batches", "128", "--steps", "20"]
        resnet = ["--krylov-dims", "5", "--refreshes", "3", "--curvature-batches", "64", "--steps", "3",
                  "--warmup", "1"]
        hvps = ["--hvp-variants", "512", "128", "--steps", "10", "--compile"]
        training = ["device=cuda"]
        epochs = (2, 3)
        gpus = torch.cuda.device_count()
        # one process alone, then one per GPU: what the data-parallel code costs with nothing to share, and with
        distributed = ["--backend", "nccl", "--processes", *map(str, sorted({1, gpus})), "--steps", "10"]
        compiled = ["--device", "cuda", "--backends", "inductor", "eager", "--steps", "3"]
        limits = dict(tests=45, bench_mnist1d=45, bench_resnet18=100, hvp_variants=45, main_job=70,
                      kryball_plus_epochs=65, distributed=40, compile=50)  # 460 s in all
    train = [python, "train.py", "task=cifar10_resnet", f"task.data_dir={data_dir}", "checkpoint=false", *training]
    nccl_missing = None if quick or torch.distributed.is_nccl_available() else "this torch has no NCCL"
    return [
        Part("tests", "GPU tests", "The tests marked `gpu` and those that skip for want of CUDA "
             "(suite/gpu_report/cuda_tests.py).",
             [python, "-m", "pytest", "-q", "-rs", "-p", "suite.gpu_report.cuda_tests", "--cuda-tests",
              f"--junitxml={files / 'tests.xml'}"], limits["tests"], render_tests),
        Part("bench_mnist1d", "Step bench: MNIST-1D MLP", "One step of each optimiser on one synthetic batch "
             "(scripts/bench_step.py; columns: docs/performance.md, \"How it is measured\").",
             [*bench, "--task", "mnist1d", *mnist1d, "--least-squares", "--out", str(files / "bench_mnist1d.csv")],
             limits["bench_mnist1d"], render_bench),
        Part("bench_resnet18", "Step bench: CIFAR-10 ResNet-18", "The same on ResNet-18 and a synthetic batch of "
             "CIFAR-10's shape.",
             [*bench, "--task", "cifar10_resnet", *resnet, "--least-squares",
              "--out", str(files / "bench_resnet18.csv")], limits["bench_resnet18"], render_bench),
        Part("hvp_variants", "One HVP, each way", "One Hessian-vector product of the MNIST-1D MLP taken each way "
             "the bench offers, ms per product (scripts/bench_step.py --hvp-variants).",
             [*bench, "--task", "mnist1d", *hvps, "--out", str(files / "hvp_variants.csv")],
             limits["hvp_variants"], render_hvps),
        Part("main_job", "The main job: `task=cifar10_resnet optim=kryball`", f"`train.py` for {epochs[0]} "
             f"epoch(s) on generated CIFAR-10 files ({5 * CIFAR_PER_FILE['quick' if quick else 'full']} training "
             "images, random pixels and labels: the time is real, the accuracy is not).",
             [*train, "optim=kryball", f"epochs={epochs[0]}", f"hydra.run.dir={files / 'main_job_run'}"],
             limits["main_job"], render_training),
        Part("kryball_plus_epochs", "`task=cifar10_resnet optim=kryball_plus`", f"The same data, the shipped "
             f"KryBall+, {epochs[1]} epochs.",
             [*train, "optim=kryball_plus", f"epochs={epochs[1]}",
              f"hydra.run.dir={files / 'kryball_plus_epochs_run'}"], limits["kryball_plus_epochs"], render_training),
        Part("distributed", "DistributedKryBall", "KryBall+ on the MNIST-1D MLP, one synthetic batch shared among the "
             "processes (suite/gpu_report/shared_batch.py), NCCL on the GPUs (gloo on the CPU in the rehearsal).",
             [python, "-m", "suite.gpu_report.shared_batch", *distributed,
              "--out", str(files / "distributed.csv")], limits["distributed"], render_distributed,
             skip=nccl_missing),
        Part("compile", "A compiled model in the closure", "A few KryBall+ steps of `torch.compile(model)` on the "
             "MNIST-1D MLP with each backend (suite/gpu_report/compiled.py): it trains, or the refusal is quoted; "
             "`max_loss_difference` from the same steps uncompiled.",
             [python, "-m", "suite.gpu_report.compiled", *compiled], limits["compile"], render_compile),
    ]


def run_part(part: Part, files: Path, started: float, budget: float, quick: bool, names: dict[str, str]) -> None:
    """Run one part within its limit and what is left of the budget; its status, seconds and log."""
    left = budget - (time.monotonic() - started)
    limit = min(part.limit_s, left)
    if limit < min(part.limit_s, 5.0):
        part.status, part.skip = "skipped", f"{left:.0f} s left of the report's budget of {budget:.0f} s"
        progress(started, f"{part.key}: skipped ({part.skip})")
        return
    part.log = part.file(files, ".log")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if quick:
        env["CUDA_VISIBLE_DEVICES"] = ""  # the rehearsal is the CPU's, on any machine
    progress(started, f"{part.key}: start (limit {limit:.3g} s)")
    begin = time.monotonic()
    with part.log.open("w") as log:
        log.write(f"$ {command_line(part, names)}\n")
        log.flush()
        # A session of its own, so that a timeout stops its children too (spawned ranks, compile workers).
        process = subprocess.Popen(part.command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = process.wait(timeout=limit)
            part.status = "ok" if code == 0 else f"failed (exit code {code})"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            part.status = f"timed out after {limit:.3g} s"
    part.seconds = time.monotonic() - begin
    progress(started, f"{part.key}: {part.status}, {part.seconds:.1f} s")


def progress(started: float, line: str) -> None:
    print(f"[{time.monotonic() - started:6.1f} s] {line}", flush=True)


# --- The report ------------------------------------------------------------------------------------------------

def machine_facts(quick: bool) -> dict:
    cuda = torch.cuda.is_available() and not quick
    return dict(
        device=torch.cuda.get_device_name(0) if cuda else cpu_name(),
        devices=f"{torch.cuda.device_count()} CUDA device(s)" if cuda else "CPU only (the rehearsal)",
        torch=torch.__version__,
        cuda=torch.version.cuda or "none (a CPU build)",
        cudnn=str(torch.backends.cudnn.version()) if cuda else "—",
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        commit=git_commit(),
        python=platform.python_version(),
        cpus=str(os.cpu_count()),
    )


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def git_commit() -> str:
    def git(*words):
        return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return f"{commit} (with uncommitted changes)" if git("status", "--porcelain") else commit or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def scrub(text: str, names: dict[str, str]) -> str:
    """``text`` without the paths of this machine (the report is committed): ``names`` maps a path to what the report
    calls it (``OUT``); Python's libraries become ``site-packages/`` and ``stdlib/``, the repository's files relative."""
    paths = sysconfig.get_paths()
    for path, name in [*names.items(), (paths["purelib"], "site-packages"), (paths["stdlib"], "stdlib"),
                       (str(REPO) + os.sep, "")]:
        text = text.replace(path, name)
    return text


def display(word: str, names: dict[str, str]) -> str:
    """A command's word as the report shows it: the interpreter as ``python``, no path of this machine."""
    return "python" if word == sys.executable else scrub(word, names)


def command_line(part: Part, names: dict[str, str]) -> str:
    return " ".join(display(word, names) for word in part.command)


def render_report(parts: list[Part], facts: dict, files: Path, quick: bool, names: dict[str, str]) -> list[str]:
    title = "CPU rehearsal (--quick)" if quick else facts["device"]
    lines = [f"# GPU report: {title}, {facts['date'][:10]}", "",
             "Written by `python scripts/gpu_report.py" + (" --quick" if quick else "") + " OUT` (docs/performance.md, "
             "\"A GPU report in one command\")." + (" Tiny sizes on the CPU: the numbers say that the parts run, "
                                                    "not what they cost." if quick else ""), "",
             "| | |", "|---|---|"]
    lines += [f"| {name} | {facts[key]} |" for name, key in
              [("device", "device"), ("devices", "devices"), ("torch", "torch"), ("CUDA", "cuda"), ("cuDNN", "cudnn"),
               ("date", "date"), ("commit", "commit"), ("Python", "python"), ("CPU cores", "cpus")]]
    lines += [f"| all parts | {facts['total_s']:.0f} s |", "", "## Parts", "",
              "| part | status | seconds | limit s |", "|---|---|---|---|"]
    lines += [f"| [{p.title}](#{anchor(i, p)}) | {p.status} | {p.seconds:.1f} | {p.limit_s:.3g} |"
              for i, p in enumerate(parts, 1)]
    missing = [p for p in parts if p.status != "ok"]
    lines += ["", "Skipped, failed or timed out: none."] if not missing else ["", "Skipped, failed or timed out:", ""]
    lines += [f"- {p.key}: {p.status}" + (f" ({p.skip})" if p.skip else "") for p in missing]
    for i, part in enumerate(parts, 1):
        lines += ["", f"## {i}. {part.title}", "", part.what, "",
                  "```bash", command_line(part, names), "```", "",
                  f"Status: **{part.status}**" + (f" ({part.skip})" if part.skip else "")
                  + (f", {part.seconds:.1f} s" if part.log else "") + "."]
        if part.log is None:
            continue
        try:
            body = part.render(part, files)
        except Exception as error:  # noqa: BLE001 (a part whose files are missing or malformed is reported, not fatal)
            body = [scrub(f"No table: {type(error).__name__}: {(str(error).splitlines() or [''])[0]}", names)]
        lines += ["", *body] if body else []
        if part.status != "ok":
            lines += ["", f"Last lines of its log (`OUT/{part.log.relative_to(files.parent)}`):", "",
                      "```", *log_tail(part.log, names), "```"]
    return lines


def anchor(number: int, part: Part) -> str:
    """GitHub's anchor of a section heading."""
    heading = f"{number}. {part.title}".lower()
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def log_tail(log: Path, names: dict[str, str]) -> list[str]:
    return [scrub(line, names)[:200] for line in log.read_text(errors="replace").splitlines()[-LOG_TAIL:]]


def markdown(table: pd.DataFrame) -> list[str]:
    """A table with three significant figures, blanks for missing numbers."""
    def cell(value):
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
        return str(value)

    return table.map(cell).to_markdown(index=False).splitlines()


def render_tests(part: Part, files: Path) -> list[str]:
    rows = []
    for case in ET.parse(files / "tests.xml").getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("skipped", "failure", "error"):
                outcome = {"skipped": "skipped", "failure": "failed", "error": "error"}[child.tag]
                message = (child.get("message") or "").splitlines()[0][:120] if child.get("message") else ""
        rows.append(dict(test=f"{case.get('classname')}::{case.get('name')}", outcome=outcome,
                         seconds=float(case.get("time") or 0), message=message))
    if not rows:
        return ["No test ran."]
    table = pd.DataFrame(rows)
    counts = ", ".join(f"{n} {outcome}" for outcome, n in table.outcome.value_counts().items())
    return [f"{len(table)} tests: {counts}.", "", *markdown(table)]


BENCH_COLUMNS = {"optimizer": "optimizer", "krylov_dim": "M", "refresh": "r", "curvature_examples": "curvature examples",
                 "median_step_ms": "step ms", "ratio_to_adam": "× Adam", "hvps_per_step": "HVPs/step",
                 "floor_ms": "floor ms", "overhead_vs_floor": "overhead vs floor", "peak_memory_mb": "peak memory MB"}


def render_bench(part: Part, files: Path) -> list[str]:
    table = pd.read_csv(part.file(files, ".csv"))
    costs = table[["forward_ms", "gradient_ms", "gradient_graph_ms", "hvp_ms"]].median()
    shown = table[list(BENCH_COLUMNS)].rename(columns=BENCH_COLUMNS)
    for column in ("M", "r", "curvature examples"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return [f"Batch {table.batch_size[0]}, {table.threads[0]} CPU thread(s); median costs of the cross-entropy "
            f"rows: forward {costs.forward_ms:.3g} ms, gradient {costs.gradient_ms:.3g} ms "
            f"({costs.gradient_graph_ms:.3g} with graph), HVP {costs.hvp_ms:.3g} ms. The squared-error rows' floors "
            "are that loss's.", "", *markdown(shown)]


HVP_COLUMNS = {"examples": "examples", "gradient_ms": "gradient", "double_backward_ms": "double backward (KryBall's)",
               "batched_per_product_ms": "5 in one batched backward, per product",
               "forward_over_reverse_ms": "forward-over-reverse",
               "compiled_forward_over_reverse_ms": "forward-over-reverse, compiled", "compile_s": "compile s"}


def render_hvps(part: Part, files: Path) -> list[str]:
    table = pd.read_csv(part.file(files, ".csv"))
    ways = table[table.double_backward_ms.notna()]
    last = table[table.double_backward_ms.isna()].iloc[0]
    shown = ways[[c for c in HVP_COLUMNS if c in ways]].rename(columns=HVP_COLUMNS)
    shown["examples"] = shown["examples"].astype(int)
    return [*markdown(shown), "", f"A product of {int(last.examples)} examples selected from the whole batch's graph: "
            f"{last.selected_from_whole_graph_ms:.3g} ms; on a forward pass of those examples alone: "
            f"{last.separate_forward_ms:.3g} ms."]


def render_training(part: Part, files: Path) -> list[str]:
    run = files / f"{part.key}_run"
    summary = json.loads((run / "summary.json").read_text())
    row = dict(optimizer=summary["optim"], device=summary["device"], status=summary["status"],
               epochs=summary["epochs_run"], training_s=summary["wall_time_s"],
               s_per_epoch=summary["wall_time_s"] / summary["epochs_run"] if summary["epochs_run"] else math.nan,
               process_s=part.seconds, hvps=summary["hvps"], final_train_loss=summary["final_train_loss"] or math.nan)
    lines = markdown(pd.DataFrame([row]))
    if summary.get("error"):
        lines += ["", f"Error: `{summary['error'][:300]}`"]
    metrics = run / "metrics.csv"
    if metrics.exists():
        epochs = pd.read_csv(metrics)[["epoch", "wall_time_s", "train_loss", "hvps", "loss_evals"]]
        lines += ["", "Per epoch (`wall_time_s`: training time so far, evaluation excluded):", "", *markdown(epochs)]
    return ["`process_s`: the whole command (start-up, data, evaluation included).", "", *lines]


def render_distributed(part: Part, files: Path) -> list[str]:
    table = pd.read_csv(part.file(files, ".csv"))
    shown = ["optimizer", "processes", "backend", "device", "step_ms", "comm_ms", "collectives", "numbers",
             "max_loss_difference"]
    return [*markdown(table[shown]), "", "`max_loss_difference`: the largest difference of a step's loss from plain "
            "KryBall's on the whole batch (floating-point reduction order only, kryball/distributed.py)."]


def render_compile(part: Part, files: Path) -> list[str]:
    """One line per backend tried: the facts of the steps it took, or the refusal quoted."""
    lines = []
    for line in part.log.read_text(errors="replace").splitlines():
        if line.startswith("outcome=refused "):
            backend, _, error = line.removeprefix("outcome=refused backend=").partition(" error=")
            lines.append(f"- `{backend}`: refused: `{error}`")
        elif line.startswith("outcome=trains "):
            facts = dict(word.split("=", 1) for word in line.split()[1:])
            backend = facts.pop("backend")
            lines.append(f"- `{backend}`: trains: " + ", ".join(f"{key} {value}" for key, value in facts.items()))
    return lines
