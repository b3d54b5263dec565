"""The Delta warehouse's tables (SIGNALS_WAREHOUSE=delta): where each lives under the root, and a commit run again
while it conflicts with a concurrent run's. Shared by the IO manager that writes the assets' tables
(signals_assets/delta_io_manager.py, the Dagster side) and by queries.py."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from deltalake.exceptions import CommitFailedError

SCHEMA = "signals"
# A commit that conflicts is run again this many times, after 0.1, 0.2, 0.4 .. 5 s (with jitter).
COMMIT_RETRIES = 10
MAX_DELAY_S = 5.0


class DeltaWriteConflict(RuntimeError):
    """A write kept conflicting with concurrent commits; nothing of it was committed."""


def table_uri(root: str, table: str) -> str:
    return str(Path(root).resolve() / SCHEMA / table)


def table_names(root: str) -> list[str]:
    """The Delta tables under root/signals/ (a folder with a _delta_log)."""
    return sorted(log.parent.name for log in (Path(root) / SCHEMA).glob("*/_delta_log"))


def _delays() -> Iterator[float]:
    delay = 0.1
    while True:
        yield min(delay, MAX_DELAY_S) * random.uniform(0.5, 1.5)
        delay *= 2


def committed(write: Callable[[], object], what: str, retries: int = COMMIT_RETRIES) -> int:
    """Run `write` (one whole read-and-commit) until it commits; run again while its commit conflicts with a
    concurrent one. The number of attempts it took; a clear error when it never committed."""
    delays = _delays()
    attempts = 0
    while True:
        attempts += 1
        try:
            write()
            return attempts
        except CommitFailedError as error:
            if attempts > retries:
                raise DeltaWriteConflict(
                    f"{what} did not commit in {attempts} attempts: each time another run had committed a conflicting "
                    f"change first ({str(error).splitlines()[0]}). Nothing of this write was committed, the table "
                    "keeps its previous rows. Runs of different weeks do not conflict; two runs of the same week do: "
                    "let the other run finish, then run this one again. To queue runs of one week one after the "
                    "other, add to dagster.yaml's concurrency.runs: tag_concurrency_limits: [{key: "
                    "dagster/partition, value: {applyLimitPerUniqueValue: true}, limit: 1}]."
                ) from error
        time.sleep(next(delays))
