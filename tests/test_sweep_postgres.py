"""Scale-out sweeps through a real database (suite/sweeps/local.py, docs/sweeps.md): a throwaway PostgreSQL
server started by the test, two ``scripts/sweep.py --storage postgresql://…`` processes sharing one study, and
Optuna's heartbeat failing and retrying the trial of a worker that stopped beating.

The server runs from the PostgreSQL binaries on this machine (Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/<version>/bin``) as the ``postgres`` user when the tests run as root (the server refuses
root), in a fresh temporary directory, listening on a Unix socket there only: no port to collide with.
Without binaries, or where the server cannot start, the tests are skipped and say why — except under
.ci/run (``KRYBALL_REQUIRE_SERVICES=1``), which installs the server where it is missing: there they fail."""

import getpass
import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import optuna
import pytest
from conftest import require_module, service_unavailable, xor_adam_spec
from optuna.trial import TrialState

from suite.config import REPO
from suite.sweeps import local

require_module("psycopg2", "psycopg2 (the PostgreSQL driver, in the dev extra) is not installed")

SERVER_USER = "postgres"  # the account Debian's package creates; the server will not run as root


def postgres_bin_dir() -> pathlib.Path | None:
    """Where initdb and pg_ctl are: on PATH, else the newest /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return pathlib.Path(on_path).resolve().parent
    versions = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return versions[-1].parent if versions else None


def as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server of its own for this module: yields the URL of an empty database, stops it after."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        service_unavailable("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            service_unavailable(f"running as root and there is no {SERVER_USER!r} user for the server to run as")
        if shutil.which("runuser") is None:
            service_unavailable("running as root and runuser (to start the server as postgres) is missing")
    home = pathlib.Path(tempfile.mkdtemp(prefix="kryball-pg-"))  # short: a socket path has ~100 characters
    if os.geteuid() == 0:
        os.chown(home, server_user.pw_uid, server_user.pw_gid)
    data, log = home / "data", home / "server.log"
    user = SERVER_USER if os.geteuid() == 0 else getpass.getuser()

    def step(*command: str, timeout: float = 120) -> None:
        done = subprocess.run(as_server_user([str(bin_dir / command[0]), *command[1:]]), capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            server_log = log.read_text().strip().splitlines()[-3:] if log.exists() else []
            service_unavailable(f"PostgreSQL could not be started ({command[0]}: {' | '.join(tail + server_log)})")

    started = False
    try:
        step("initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync")
        step("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
             f"-c listen_addresses='' -c unix_socket_directories={home} -c fsync=off")
        started = True
        step("createdb", "-h", str(home), "-U", user, "optuna")
        yield f"postgresql+psycopg2://{user}@/optuna?host={home}"
    finally:
        if started:
            subprocess.run(as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


SPEC = xor_adam_spec("epochs=20")


@pytest.mark.heavy
def test_two_worker_processes_share_one_study_in_postgresql(postgres_url, tmp_path):
    spec = tmp_path / "sweeps" / "xor" / "adam.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC)

    def worker(name: str) -> subprocess.Popen:  # as on two machines: each its own run directories
        # The search alone (--protocol thesis), whose trials the two workers share.
        return subprocess.Popen([sys.executable, "scripts/sweep.py", str(spec), "--protocol", "thesis", "--trials", "2",
                                 "--storage", postgres_url, "--out", str(tmp_path / name),
                                 "--tuned-dir", str(tmp_path / name / "tuned")],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    workers = [worker("a"), worker("b")]  # started together on a fresh database
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err
        assert len([line for line in out.splitlines() if "] trial " in line]) == 2

    trials = optuna.load_study(study_name="xor-adam", storage=local.open_storage(postgres_url)).trials
    assert sorted(t.number for t in trials) == list(range(4))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)  # the thesis's Hyperband may stop one
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    by_machine = {name: sorted(pathlib.Path(t.user_attrs["run_dir"]).name for t in trials
                               if pathlib.Path(t.user_attrs["run_dir"]).parent.name == name) for name in "ab"}
    assert len(by_machine["a"]) == len(by_machine["b"]) == 2
    for name in "ab":
        assert (tmp_path / name / "tuned" / "xor_adam.yaml").exists()


def test_workers_opening_a_fresh_database_together_all_get_it(postgres_url):
    """Optuna creates its tables on first use; several workers doing so at once used to crash all but one
    (optuna#1092)."""
    url = postgres_url.replace("/optuna?", "/fresh?")
    home = postgres_url.split("host=")[1]
    user = postgres_url.split("://")[1].split("@")[0]
    subprocess.run(as_server_user([str(postgres_bin_dir() / "createdb"), "-h", home, "-U", user, "fresh"]),
                   check=True, capture_output=True)
    together = threading.Barrier(4)
    outcomes = []

    def worker():
        together.wait()
        try:
            local.open_storage(url)
            outcomes.append("ok")
        except Exception as error:  # noqa: BLE001 - the assertion below names it
            outcomes.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ok"] * 4


def test_the_heartbeat_fails_and_retries_the_trial_of_a_silent_worker(postgres_url, monkeypatch):
    """A worker on another machine that stopped (its pid means nothing here): the database's heartbeat is what
    notices, and the next worker to start a trial fails it and queues its configuration again."""
    monkeypatch.setattr(local, "HEARTBEAT_INTERVAL_S", 1)
    monkeypatch.setattr(local, "GRACE_PERIOD_S", 1)
    study = optuna.create_study(storage=local.open_storage(postgres_url), study_name="heartbeat")
    with pytest.warns(UserWarning, match="Heartbeat"):  # Optuna expects heartbeats from optimize(), not ask()
        silent = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study._storage.set_trial_user_attr(silent._trial_id, "worker", "another-machine:1:1")
    study._storage.record_heartbeat(silent._trial_id)  # it beat once, then its machine died
    time.sleep(2.5)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    failed, retry = study.trials
    assert failed.state == TrialState.FAIL
    assert retry.state == TrialState.COMPLETE and retry.params == failed.params
    assert retry.system_attrs["failed_trial"] == 0 and "worker" not in retry.user_attrs
