"""A pytest plugin that keeps the tests that want CUDA: the GPU report's test part.

    python -m pytest -p suite.gpu_report.cuda_tests --cuda-tests

With ``--cuda-tests`` only the tests marked ``gpu`` (tests/conftest.py) are kept, and those with a ``skipif``
whose reason names CUDA or a GPU, marked or not: every test that skips for want of CUDA, as far as its marks
say. A test that calls ``pytest.skip`` itself is not seen until it runs.
"""

import re

WANTS_CUDA = re.compile(r"cuda|gpu", re.IGNORECASE)


def pytest_addoption(parser):
    parser.addoption("--cuda-tests", action="store_true",
                     help="only the tests marked gpu or skipped (skipif) for want of CUDA")


def wants_cuda(item) -> bool:
    if item.get_closest_marker("gpu") is not None:
        return True
    return any(WANTS_CUDA.search(str(mark.kwargs.get("reason", ""))) for mark in item.iter_markers("skipif"))


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--cuda-tests"):
        return
    kept = [item for item in items if wants_cuda(item)]
    kept_ids = {id(item) for item in kept}
    config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept_ids])
    items[:] = kept
