"""Deferred judging: in a gated suite, a case's LLM judges run on a bounded pool while the
next cases run, and the case's record is completed before the gates are decided.

A gated case doesn't pass or fail on its own verdicts (its suite's gates decide), so nothing
waits for them but the end of the run. Each process settles its own cases at the end of its
session: the controller adds them before the gates and the reports; a worker sends them in
`workeroutput`. A judge that fails makes the case an error in the report; nothing is dropped.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any

from pytest_genai.current import DETACHED
from pytest_genai.judging import JUDGE_THREAD_PREFIX

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import Future, ThreadPoolExecutor

    from pytest_genai.recording import CaseRecorder
    from pytest_genai.results import CaseResult, Feedback
    from pytest_genai.scoring.base import Scorer

DEFERRED_KEY = "genai_deferred"
"""The `workeroutput` key of a worker's settled cases (a list of `CaseResult` dicts)."""
PENDING_PER_THREAD = 4
"""Cases queued per judge thread before a test waits for room (bounds memory and lag)."""


class DeferredJudging:
    """The pool and the cases waiting for their verdicts, in one process."""

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self._pool: ThreadPoolExecutor | None = None
        self._room = threading.BoundedSemaphore(self.threads * PENDING_PER_THREAD)
        self._waiting: list[CaseRecorder] = []
        self._lock = threading.Lock()

    def submit(
        self,
        recorder: CaseRecorder,
        judges: Sequence[Scorer],
        run: Callable[..., list[Feedback]],
        repeat: int,
        client: Any,
        **case: Any,
    ) -> None:
        """Judge a case later: `run(judges, **case)` on the pool, with the run's judge `client`
        (the test, and maybe the session, is over by then). Blocks only while the pool already
        has its fill of cases waiting."""
        from pytest_genai.judges.base import BOUND_CLIENT, CASE_REPEAT

        self._room.acquire()
        context = contextvars.copy_context()
        context.run(CASE_REPEAT.set, repeat)
        context.run(BOUND_CLIENT.set, client)
        context.run(DETACHED.set, True)
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(
                    max_workers=self.threads, thread_name_prefix=JUDGE_THREAD_PREFIX + "-deferred"
                )
            future: Future[list[Feedback]] = self._pool.submit(context.run, run, judges, **case)
        future.add_done_callback(lambda _: self._room.release())
        recorder.pending.append((future, list(judges)))

    def park(self, recorder: CaseRecorder) -> None:
        """The case's test is over: keep its record until its verdicts are in."""
        recorder.freeze()
        with self._lock:
            self._waiting.append(recorder)

    def settle(self, cancel: bool = False) -> list[CaseResult]:
        """Wait for every verdict (with `cancel`, the run was interrupted: judge calls not
        started yet are not made); the completed records of the parked cases."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        if not waiting:
            return []
        from concurrent.futures import CancelledError

        if cancel:
            for recorder in waiting:
                for future, _ in recorder.pending:
                    future.cancel()
        results = []
        for recorder in waiting:
            for future, judges in recorder.pending:
                try:
                    recorder.add(future.result())
                except CancelledError:
                    reason = RuntimeError("not judged: the run was interrupted")
                    recorder.add([j.error_feedback(reason) for j in judges])
                except BaseException as exc:  # the runner turns errors into feedback already
                    recorder.add([judges[0].error_feedback(exc)] if judges else [])
            recorder.pending.clear()
            try:
                results.append(recorder.result())
            except Exception as exc:
                results.append(recorder.failed_result(exc))
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
