"""The call ledger when it cannot be trusted, and when runs share it: a ledger that cannot be read or written
stops the run before any Stock News API call (never a count from 0), and runs side by side never pass the
monthly budget together (each request is counted under the ledger's lock before it is sent).

Tests run as root, which file permissions do not stop, so the faults are made with what stops root too: a
folder where the file should be, a read-only tmpfs mount, an immutable file (chattr +i), and a child process
that gives up root (setuid to nobody) to meet real permission bits."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from signals_assets.defs.ingestion.resources import CACHE_DIR_NAME, StockNewsAPI
from signals_assets.news import quota
from signals_assets.news.client import StockNewsAPIError
from signals_assets.news.quota import CallBudgetExceeded, CallLedger, MeteredGet
from signals_assets.weeks import Week
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI, Fault

WEEK = Week.from_key("2026-10-24")
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 5.0, "connect_timeout_s": 2.0, "read_timeout_s": 5.0}
LOG = logging.getLogger("test.ledger_faults")
TICKERS_DB = "/api/v1/account/tickersdbv2"
NOBODY = 65534


def this_month() -> str:
    return quota.month_of(datetime.now(timezone.utc))


def source(api: FakeStockNewsAPI, **settings) -> StockNewsAPI:
    return StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, **{**FAST, **settings})


def entry(calls: int) -> str:
    return json.dumps({"format": 1, "calls_by_month": {this_month(): calls}})


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "data" / CACHE_DIR_NAME


def leftovers(folder: Path) -> list[str]:
    return sorted(file.name for file in folder.iterdir() if file.name.endswith(".tmp"))


# ----- a ledger that cannot be read -----


@pytest.mark.parametrize(
    "content",
    [
        '{"format": 1, "calls_by',  # cut off
        json.dumps({"format": 2, "calls_by_month": {}}),
        json.dumps([1, 2]),
        json.dumps({"format": 1, "calls_by_month": {"2026-11": -5}}),
        json.dumps({"format": 1, "calls_by_month": {"2026-11": "many"}}),
        None,  # a folder where the file should be (IsADirectoryError, also for root)
    ],
    ids=["truncated", "other-format", "not-an-object", "negative-count", "text-count", "folder"],
)
def test_an_unreadable_ledger_stops_the_week_before_any_call(content, cache_dir):
    path = quota.ledger_path(cache_dir)
    path.parent.mkdir(parents=True)
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    with FakeStockNewsAPI([]) as api:
        with pytest.raises(StockNewsAPIError) as caught:
            source(api, monthly_call_budget=1000).fetch_week(WEEK, ["AAA"], cache_dir, log=LOG)
        assert api.requests == []  # the budget check read the ledger first, and failed closed
        message = str(caught.value)
        assert type(caught.value).__name__ == "CallLedgerError" and f"ledger {path} cannot be read" in message
        assert f"fix or delete {path}: deleting it restarts this month's count at 0" in message
        assert path.is_dir() if content is None else path.read_text() == content  # left as it was, for a look
        assert FAKE_TOKEN not in message

        shutil.rmtree(path) if content is None else path.unlink()  # the fix: a missing ledger is a first use
        fetched = source(api, monthly_call_budget=1000).fetch_week(WEEK, ["AAA"], cache_dir, log=LOG)
    assert fetched.api_calls == 1 and CallLedger(path, LOG).calls_in(this_month()) == 1
    assert leftovers(path.parent) == []


# ----- a ledger that cannot be written -----


def _read_only_mount(folder: Path) -> None:
    """The data dir on a tmpfs holding a ledger, remounted read-only (EROFS, for root too)."""
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    (folder / quota.LEDGER_FILE_NAME).write_text(entry(7))
    (folder / (quota.LEDGER_FILE_NAME + ".lock")).touch()
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


def _immutable_ledger(folder: Path) -> None:
    """A ledger marked immutable (chattr +i): it reads, and the lock and the temporary file can be written,
    but renaming over it fails (EPERM, for root too), after the temporary file was written."""
    folder.mkdir(parents=True)
    ledger = folder / quota.LEDGER_FILE_NAME
    ledger.write_text(entry(7))
    marked = subprocess.run(["chattr", "+i", str(ledger)], capture_output=True) if shutil.which("chattr") else None
    if marked is None or marked.returncode != 0:
        pytest.skip("chattr +i is not available on this file system")


def _undo(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(folder / quota.LEDGER_FILE_NAME)], capture_output=True)


@pytest.mark.parametrize("make", [_read_only_mount, _immutable_ledger], ids=["read-only-mount", "immutable-file"])
def test_an_unwritable_ledger_stops_before_the_call_and_leaves_no_temporary_file(make, tmp_path):
    cache_dir = tmp_path / "data" / CACHE_DIR_NAME
    try:
        make(cache_dir.parent)
        path = quota.ledger_path(cache_dir)
        with FakeStockNewsAPI([], [{"ticker": "AAA"}]) as api:
            with pytest.raises(StockNewsAPIError) as caught:
                source(api, monthly_call_budget=100, cache_responses=False).supported_tickers(cache_dir, LOG)
            assert api.requests == []  # not paid for, so nothing is lost
        message = str(caught.value)
        assert type(caught.value).__name__ == "CallLedgerError" and f"ledger {path} cannot be" in message
        assert f"make {path} and its folder {path.parent} readable and writable by the user running Dagster" in message
        assert path.read_text() == entry(7) and leftovers(path.parent) == []
    finally:
        _undo(cache_dir.parent)


def _as_nobody(path: str, results) -> None:
    """In a child process that gave up root: one metered get, its outcome sent back."""
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    sent: list[str] = []

    def get(where, params):
        sent.append(where)
        return {"data": []}

    try:
        MeteredGet(get, lambda: len(sent), CallLedger(Path(path), LOG), budget=100).get("/account/tickersdbv2", {})
        results.put(("ok", len(sent), ""))
    except Exception as exc:  # noqa: BLE001 (sent back to the test to look at)
        results.put((type(exc).__name__, len(sent), str(exc)))


@pytest.mark.parametrize("denied", ["read", "write"])
def test_a_ledger_the_dagster_user_may_not_use_stops_before_the_call(denied):
    if os.geteuid() != 0:
        pytest.skip("needs root, to hand the ledger to another user")
    folder = Path(tempfile.mkdtemp(prefix="ledger-perms-", dir="/tmp"))  # /tmp: a path nobody can walk
    try:
        path = folder / quota.LEDGER_FILE_NAME
        path.write_text(entry(7))
        (folder / (quota.LEDGER_FILE_NAME + ".lock")).touch()
        os.chmod(folder / (quota.LEDGER_FILE_NAME + ".lock"), 0o666)
        if denied == "read":  # a root-only ledger in a folder anyone can write
            os.chmod(path, 0o600)
            os.chmod(folder, 0o777)
        else:  # a readable ledger in a folder only root can write
            os.chmod(path, 0o644)
            os.chmod(folder, 0o755)
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        child = context.Process(target=_as_nobody, args=(str(path), results))
        child.start()
        kind, sent, message = results.get(timeout=60)
        child.join(timeout=60)
        assert (kind, sent) == ("CallLedgerError", 0), message  # stopped before the request
        assert f"ledger {path} cannot be {'read' if denied == 'read' else 'written'}" in message
        assert f"make {path} and its folder {folder} readable and writable by the user running Dagster" in message
        assert path.read_text() == entry(7) and leftovers(folder) == []
    finally:
        shutil.rmtree(folder)


# ----- counted before sending -----


def test_a_request_is_counted_before_it_is_sent_and_given_back_if_it_was_not(tmp_path):
    ledger = CallLedger(tmp_path / quota.LEDGER_FILE_NAME, LOG)
    seen: list[int] = []
    sent: list[str] = []

    def get(path, params):
        seen.append(ledger.calls_in(this_month()))  # what another run would read while this request is out
        if path == "/unsendable":
            raise StockNewsAPIError("bad URL: nothing was sent")
        sent.append(path)
        return {"data": []}

    metered = MeteredGet(get, lambda: len(sent), ledger, budget=5)
    metered.get("/one", {})
    with pytest.raises(StockNewsAPIError, match="nothing was sent"):
        metered.get("/unsendable", {})
    assert seen == [1, 2]  # each counted before it went out
    assert ledger.calls_in(this_month()) == 1 == len(sent)  # the one not sent was given back


def test_a_redirect_is_counted_before_it_is_followed(cache_dir):
    with FakeStockNewsAPI([], [{"ticker": "AAA"}]) as api:
        api.script_failures([Fault(302, {"Location": TICKERS_DB})])
        with pytest.raises(CallBudgetExceeded) as caught:
            source(api, monthly_call_budget=1, cache_responses=False).supported_tickers(cache_dir, LOG)
        assert len(api.requests) == 1  # the redirect was not followed: it would have been the 2nd call of 1
    assert CallLedger(quota.ledger_path(cache_dir), LOG).calls_in(this_month()) == 1
    assert "budget of 1" in str(caught.value) and FAKE_TOKEN not in str(caught.value)


# ----- runs side by side -----

RUNS, BUDGET = 6, 40


def _run_until_refused(base_url: str, cache_dir: str, start, results) -> None:
    """One run: ask for the ticker list (one call each, not cached) until the budget refuses."""
    news = StockNewsAPI(
        api_key=FAKE_TOKEN, base_url=base_url, monthly_call_budget=BUDGET, cache_responses=False, **FAST
    )
    start.wait(timeout=30)
    done = 0
    try:
        while True:
            news.supported_tickers(Path(cache_dir), LOG)
            done += 1
    except CallBudgetExceeded:
        results.put(("refused", done))
    except Exception as exc:  # noqa: BLE001 (sent back to the test to look at)
        results.put((f"{type(exc).__name__}: {exc}", done))


@pytest.mark.parametrize("retried", [0, 4], ids=["one-request-each", "with-retries"])
def test_runs_side_by_side_never_pass_the_budget(retried, cache_dir):
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(RUNS), context.Queue()
    with FakeStockNewsAPI([], [{"ticker": "AAA"}], latency_s=0.03) as api:  # requests overlap in flight
        api.script_failures([Fault(503)] * retried)  # retried at once: each retry is a call too
        runs = [
            context.Process(target=_run_until_refused, args=(api.base_url, str(cache_dir), start, results))
            for _ in range(RUNS)
        ]
        for run in runs:
            run.start()
        outcomes = [results.get(timeout=120) for _ in runs]
        for run in runs:
            run.join(timeout=60)
        received = len(api.requests)
    assert [outcome for outcome, _ in outcomes] == ["refused"] * RUNS, outcomes
    assert CallLedger(quota.ledger_path(cache_dir), LOG).calls_in(this_month()) == BUDGET
    assert received == BUDGET  # never more than the budget, retries included
    assert sum(done for _, done in outcomes) == BUDGET - retried
    assert leftovers(cache_dir.parent) == []
