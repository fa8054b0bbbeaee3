"""`JudgeRun`: what judging needs for one pytest run in one process: the judge client, its
cache and budget store, the thread pool of concurrent judge calls and the run's id.

Made with the run state but empty until a test first asks a judge: no litellm, no sqlite file.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_genai.config import Settings

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from pytest_genai.cache import JudgeStore
    from pytest_genai.judges.client import JudgeClient

JUDGE_THREAD_PREFIX = "genai-judge"
RUN_ID_KEY = "genai_run_id"
"""The `workerinput` key of the run's id: the budget of all workers is counted under it."""
CACHE_FILE = "judge.sqlite"


class JudgeRun:
    """The judge client, store and pool of this process for one run."""

    def __init__(self, settings: Settings, rootdir: Path, workerinput: dict | None) -> None:
        self.settings = settings
        self.run_id = str((workerinput or {}).get(RUN_ID_KEY) or uuid.uuid4().hex)
        folder = settings.cache_dir or rootdir / ".genai_cache"
        self.cache_path = folder / CACHE_FILE
        self._client: JudgeClient | None = None
        self._store: JudgeStore | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def needs_store(self) -> bool:
        """Whether judging uses the sqlite file: a cache mode other than off, or a limit."""
        s = self.settings
        return s.cache != "off" or s.max_cost is not None or s.max_judge_calls is not None

    def client(self) -> JudgeClient:
        """The process's judge client, made on first use (no litellm import before)."""
        with self._lock:  # pool threads may ask first
            if self._client is None:
                from pytest_genai.judges.client import JudgeClient

                if self.needs_store:
                    from pytest_genai.cache import JudgeStore

                    self._store = JudgeStore(self.cache_path)
                self._client = JudgeClient(self.settings, store=self._store, run_id=self.run_id)
        return self._client

    def pool(self) -> ThreadPoolExecutor | None:
        """Threads for judging several criteria at once, made on first use and kept for the
        run (None when `genai_judge_concurrency` is 1)."""
        if self.settings.judge_concurrency < 2:
            return None
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.judge_concurrency,
                    thread_name_prefix=JUDGE_THREAD_PREFIX,
                )
        return self._pool

    def problems(self) -> list[str]:
        """What went wrong with the cache file (moved aside, locked past the bound)."""
        found: list[str] = []
        if self._store is not None:
            found += self._store.problems
        if self._client is not None:
            found += self._client.store_problems
        return found

    def close(self) -> None:
        """End of the run: let the judge threads go and close the cache file."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._store is not None:
            self._store.close()
