"""The judge cache and the run's judge budget: one sqlite file shared by xdist workers.

`verdicts` maps a judge question's key (model, judge identity, inference parameters, the
messages it was sent and the repeat index) to the verdict it got, so an unchanged question is
answered from the file. `spend` counts the judge calls and cost of each run, so a limit holds
across workers. The file is in WAL mode (readers don't block the writer); a locked database is
waited on for `BUSY_SECONDS`; a corrupt or unreadable file is moved aside with a warning and a
new one is made, and the run goes on. Nothing secret is stored: keys are hashes, and values
are the verdict, rationale, raw reply and usage.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_genai.secrets import SECRET_FIELD

MODES = ("auto", "record", "replay", "off")
BUSY_SECONDS = 30.0
KEY_VERSION = 1
"""Part of every key: bump it when what a key covers changes, and old entries stop matching."""
SPEND_DAYS = 7
"""Spend rows of runs older than this are deleted when a run opens the file."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS spend (
    run TEXT PRIMARY KEY,
    calls INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
"""


class CacheWarning(UserWarning):
    """The judge cache could not be used as it was (moved aside, or skipped for a call)."""


def cache_key(
    *,
    model: str,
    identity: Mapping[str, Any],
    messages: list[dict[str, str]],
    params: Mapping[str, Any],
) -> str:
    """The sha256 of everything that decides a judge's answer: the model, the judge's identity
    (name, a digest of its instructions and pass rule, its result type, the repeat index), the
    inference parameters (secret-named ones left out) and the messages sent."""
    clean = {k: v for k, v in sorted(params.items()) if not SECRET_FIELD.match(str(k))}
    payload = {
        "v": KEY_VERSION,
        "model": model,
        "identity": dict(sorted(identity.items())),
        "params": clean,
        "messages": messages,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Spend:
    """What a run has spent on judge calls so far (all processes)."""

    calls: int = 0
    cost: float = 0.0
    refused: int = 0


class JudgeStore:
    """The sqlite file behind the cache and the budget. Safe to share between the threads of a
    process (one connection, used under a lock) and between processes (sqlite's locking)."""

    def __init__(self, path: Path, *, busy_seconds: float = BUSY_SECONDS) -> None:
        self.path = Path(path)
        self.busy_seconds = busy_seconds
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.problems: list[str] = []

    # -- opening ------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"the judge cache folder {self.path.parent} can't be made ({exc}): set "
                "genai_cache_dir to a writable folder, or --genai-cache=off"
            ) from None
        deadline = time.monotonic() + self.busy_seconds
        while True:
            try:
                db = self._open()
                break
            except sqlite3.DatabaseError as exc:
                if _is_corrupt(exc):
                    db = self._rebuild(exc)
                    break
                if not _is_busy(exc):
                    raise StoreUnavailable(f"the judge cache {self.path}: {exc}") from None
                # switching a new file to WAL can be refused at once while another process
                # creates it (no busy wait there): try again, within the bound
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
        self._db = db
        return db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=self.busy_seconds, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT count(*) FROM verdicts WHERE key = ''").fetchone()
            with contextlib.suppress(sqlite3.OperationalError):  # read-only: replay still reads
                db.execute(
                    "DELETE FROM spend WHERE updated < ?", (time.time() - SPEND_DAYS * 86400,)
                )
        except BaseException:
            db.close()
            raise
        return db

    def _rebuild(self, cause: BaseException) -> sqlite3.Connection:
        """Move an unusable file aside and start a new one."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.time_ns()}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                try:
                    os.replace(source, Path(str(aside) + suffix))
                except OSError as exc:
                    raise StoreUnavailable(
                        f"the judge cache {self.path} is unreadable ({cause}) and can't be moved "
                        f"aside ({exc}): delete it, or set genai_cache_dir elsewhere"
                    ) from None
        message = (
            f"the judge cache {self.path} could not be read ({cause}); it was moved to "
            f"{aside.name} and a new one started"
        )
        self.problems.append(message)
        warnings.warn(message, CacheWarning, stacklevel=3)
        return self._open()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- verdicts -----------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored answer under `key`, or None (also when the file can't be read now)."""
        row = self._run("SELECT value FROM verdicts WHERE key = ?", (key,), fetch=True)
        if not row:
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store (or replace) the answer under `key`."""
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        self._run(
            "INSERT OR REPLACE INTO verdicts (key, value, created) VALUES (?, ?, ?)",
            (key, text, time.time()),
        )

    def __len__(self) -> int:
        row = self._run("SELECT count(*) FROM verdicts", (), fetch=True)
        return int(row[0]) if row else 0

    # -- budget -------------------------------------------------------------------------------

    def reserve_call(self, run: str, max_calls: int | None, max_cost: float | None) -> str | None:
        """Count one judge call of `run` if the limits allow it; else the reason it may not be
        made (and the refusal is counted). Atomic across processes."""

        def reserve(db: sqlite3.Connection) -> str | None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT OR IGNORE INTO spend (run, updated) VALUES (?, ?)", (run, time.time())
                )
                calls, cost = db.execute(
                    "SELECT calls, cost FROM spend WHERE run = ?", (run,)
                ).fetchone()
                reason = None
                if max_calls is not None and calls >= max_calls:
                    reason = f"{calls} of at most {max_calls} judge calls made"
                elif max_cost is not None and cost >= max_cost:
                    reason = f"${_usd(cost)} spent of at most ${_usd(max_cost)}"
                column = "refused" if reason else "calls"
                db.execute(
                    f"UPDATE spend SET {column} = {column} + 1, updated = ? WHERE run = ?",
                    (time.time(), run),
                )
                db.execute("COMMIT")
                return reason
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return self._with_db(reserve)

    def add_cost(self, run: str, cost: float) -> None:
        if cost:
            self._run(
                "UPDATE spend SET cost = cost + ?, updated = ? WHERE run = ?",
                (cost, time.time(), run),
            )

    def spend(self, run: str) -> Spend:
        row = self._run("SELECT calls, cost, refused FROM spend WHERE run = ?", (run,), fetch=True)
        return Spend(*row) if row else Spend()

    # -- plumbing -----------------------------------------------------------------------------

    def _run(self, sql: str, args: tuple[Any, ...], fetch: bool = False) -> Any:
        def run(db: sqlite3.Connection) -> Any:
            cursor = db.execute(sql, args)
            return cursor.fetchone() if fetch else None

        return self._with_db(run)

    def _with_db(self, action: Any) -> Any:
        """Run `action(db)` under the lock; a corrupt file is rebuilt once and tried again."""
        with self._lock:
            for attempt in range(2):
                try:
                    return action(self._connect())
                except sqlite3.DatabaseError as exc:
                    if not _is_corrupt(exc) or attempt == 1:
                        raise StoreUnavailable(f"the judge cache {self.path}: {exc}") from exc
                    if self._db is not None:
                        self._db.close()
                    self._db = self._rebuild(exc)
        raise AssertionError("unreachable")  # pragma: no cover


def _usd(amount: float) -> str:
    """`2.0013`, `2`, `0.0000117`: dollars without exponent or trailing zeros."""
    return f"{amount:.8f}".rstrip("0").rstrip(".")


def _is_corrupt(exc: BaseException) -> bool:
    """Whether the file is damaged (not merely locked, read-only or missing)."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


class StoreUnavailable(Exception):
    """The cache file stayed locked past the bound, or could not be used even when rebuilt."""
