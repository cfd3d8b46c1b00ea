"""The GPU report (scripts/gpu_report.py): its CPU rehearsal writes every part's section and the header facts; without
CUDA the full report refuses in one line; a part over its time limit is reported as timed out and the others run."""

import re
import subprocess
import sys

import pytest
import torch

from suite.commands import gpu_report
from suite.config import REPO

TITLES = ["GPU tests", "Step bench: MNIST-1D MLP", "Step bench: CIFAR-10 ResNet-18", "One HVP, each way",
          "The main job: `task=cifar10_resnet optim=kryball`", "`task=cifar10_resnet optim=kryball_plus`",
          "DistributedKryBall", "A compiled model in the closure"]


def report_of(out) -> str:
    [report] = out.glob("*.md")
    assert report.name.endswith("_cpu-quick.md")
    return report.read_text()


def status_of(report: str, title: str) -> str:
    """The status cell of a part in the report's table of parts."""
    [row] = [line for line in report.splitlines() if line.startswith(f"| [{title}](")]
    return row.split(" | ")[1]


@pytest.mark.heavy
def test_the_quick_rehearsal_writes_every_part_and_the_header_facts(tmp_path):
    assert gpu_report.main(["--quick", str(tmp_path)]) == 0
    report = report_of(tmp_path)
    for number, title in enumerate(TITLES, 1):
        assert f"\n## {number}. {title}\n" in report
        assert status_of(report, title) == "ok", title
    assert "Skipped, failed or timed out: none." in report
    assert f"| torch | {torch.__version__} |" in report and "| CUDA |" in report and "| commit |" in report
    assert "| date | 20" in report and "| device |" in report
    # Each part's own numbers, not just its heading
    assert "test_cuda_matches_cpu" in report and "needs a CUDA device" in report  # the tests that want CUDA
    assert "| kryball_plus, squared error, Gauss–Newton" in report  # KryBall+ with each curvature
    assert report.count("| kryball_plus, squared error, Hessian") == 2  # on both models
    assert "forward-over-reverse, compiled" in report and "double backward (KryBall's)" in report
    assert report.count(" | completed |") == 2  # both training runs, as their summaries say
    assert "| DistributedKryBall |" in report and "| gloo " in report
    for backend in ("aot_eager", "eager"):  # the compiled model: each backend's outcome, whatever the library does
        assert re.search(rf"- `{backend}`: (trains|refused): ", report), backend
    assert str(REPO) not in report and str(tmp_path) not in report  # no path of this machine: it is committed


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for a machine without CUDA")
def test_without_cuda_the_full_report_refuses_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "scripts/gpu_report.py", str(tmp_path / "out")], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [gpu_report.NO_CUDA]
    assert not (tmp_path / "out").exists()


def test_a_part_over_its_limit_is_timed_out_and_the_others_still_run(tmp_path):
    assert gpu_report.main(["--quick", str(tmp_path), "--only", "hvp_variants", "compile",
                            "--limit", "hvp_variants=0.5"]) == 0
    report = report_of(tmp_path)
    assert status_of(report, "One HVP, each way") == "timed out after 0.5 s"
    assert status_of(report, "A compiled model in the closure") == "ok"
    assert re.search(r"- `eager`: (trains|refused): ", report)  # the part after the timed-out one ran and was read
    assert "- hvp_variants: timed out after 0.5 s" in report and "- tests: not selected" in report


def test_parts_beyond_the_budget_are_skipped_with_the_reason(tmp_path):
    assert gpu_report.main(["--quick", str(tmp_path), "--only", "compile", "--budget", "2"]) == 0
    report = report_of(tmp_path)
    assert status_of(report, "A compiled model in the closure") == "skipped"
    assert re.search(r"\n- compile: skipped \(\d s left of the report's budget of 2 s\)\n", report)


@pytest.mark.parametrize("arguments", [["--limit", "nope=1"], ["--limit", "compile=x"], ["--only", "nope"],
                                       ["--budget", "0"], []])
def test_bad_arguments_exit_with_code_2(tmp_path, arguments):
    with pytest.raises(SystemExit) as exit_:
        gpu_report.main(["--quick", *arguments] + ([str(tmp_path)] if arguments else []))
    assert exit_.value.code == 2
