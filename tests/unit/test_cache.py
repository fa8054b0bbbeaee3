"""The judge cache and the run's judge budget: `cache_key`, `JudgeStore` (sqlite, shared by
processes), the judge client's cache modes and spend limits over real HTTP against the loopback
server, the process-wide `RateGate`, and the judge identity the cache keys on."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_genai.cache import (
    SPEND_DAYS,
    CacheWarning,
    JudgeStore,
    Spend,
    StoreUnavailable,
    cache_key,
)
from pytest_genai.config import Settings
from pytest_genai.errors import BudgetExhausted, JudgeError, ReplayMiss
from pytest_genai.judges import base as judge_base
from pytest_genai.judges.base import CASE_REPEAT, _repeat_index, make_judge
from pytest_genai.judges.client import JudgeClient, JudgeReply, RateGate, Usage
from tests.support.llm_server import LLMServer, status, verdict

MODEL = "openai/judge-test"
QUESTION = [{"role": "user", "content": "Is it polite?"}]
OTHER_QUESTION = [{"role": "user", "content": "Is it rude?"}]
IDENTITY = {
    "judge": "polite",
    "instructions": "0123456789abcdef",
    "result": "fedcba9876543210",
    "pass_rule": "aaaaaaaaaaaaaaaa",
    "repeat": 0,
}
ENV_KEY = "sk-envcanary-0123456789abcdefXYZ"
PARAM_KEY = "sk-paramcanary-9876543210fedcbaQRS"


# -- cache_key ----------------------------------------------------------------------------------


def _key(**changes: Any) -> str:
    args: dict[str, Any] = {
        "model": MODEL,
        "identity": dict(IDENTITY),
        "messages": [dict(m) for m in QUESTION],
        "params": {"temperature": 0.0, "seed": 7},
    }
    args.update(changes)
    return cache_key(**args)


def test_cache_key_is_a_stable_sha256_hex() -> None:
    key = _key()
    assert len(key) == 64
    assert all(c in "0123456789abcdef" for c in key)
    assert _key() == key


def test_cache_key_does_not_depend_on_dict_order() -> None:
    reordered_identity = dict(reversed(list(IDENTITY.items())))
    reordered_params = {"seed": 7, "temperature": 0.0}
    reordered_messages = [{"content": "Is it polite?", "role": "user"}]
    assert list(reordered_identity) != list(IDENTITY)
    assert (
        _key(identity=reordered_identity, params=reordered_params, messages=reordered_messages)
        == _key()
    )


@pytest.mark.parametrize(
    "change",
    [
        {"model": "openai/judge-other"},
        {"identity": {**IDENTITY, "judge": "rude"}},
        {"identity": {**IDENTITY, "instructions": "1123456789abcdef"}},
        {"identity": {**IDENTITY, "pass_rule": "bbbbbbbbbbbbbbbb"}},
        {"identity": {**IDENTITY, "result": "eedcba9876543210"}},
        {"identity": {**IDENTITY, "repeat": 1}},
        {"params": {"temperature": 0.5, "seed": 7}},
        {"params": {"temperature": 0.0, "seed": 8}},
        {"params": {"temperature": 0.0}},
        {"messages": [{"role": "user", "content": "Is it polite? "}]},
        {"messages": [{"role": "system", "content": "Is it polite?"}]},
        {"messages": [*QUESTION, {"role": "user", "content": "more"}]},
    ],
    ids=[
        "model",
        "judge-name",
        "instructions",
        "pass-rule",
        "result",
        "repeat",
        "temperature",
        "seed",
        "param-dropped",
        "content",
        "role",
        "extra-message",
    ],
)
def test_cache_key_changes_with_what_decides_the_answer(change: dict[str, Any]) -> None:
    assert _key(**change) != _key()


def test_cache_key_changes_with_any_message_of_several() -> None:
    messages = [
        {"role": "system", "content": "You are a judge."},
        {"role": "user", "content": "Output: hello"},
    ]
    base = _key(messages=messages)
    for index in range(len(messages)):
        changed = [dict(m) for m in messages]
        changed[index]["content"] += "!"
        assert _key(messages=changed) != base, index


@pytest.mark.parametrize(
    "secret",
    [
        {"api_key": PARAM_KEY},
        {"Authorization": f"Bearer {PARAM_KEY}"},
        {"api_key": PARAM_KEY, "Authorization": f"Bearer {PARAM_KEY}"},
    ],
    ids=["api_key", "Authorization", "both"],
)
def test_secret_named_params_do_not_change_the_key(secret: dict[str, str]) -> None:
    plain = _key()
    with_secret = _key(params={"temperature": 0.0, "seed": 7, **secret})
    assert with_secret == plain
    assert PARAM_KEY not in with_secret
    other_secret = {k: v.replace("canary", "other") for k, v in secret.items()}
    assert _key(params={"temperature": 0.0, "seed": 7, **other_secret}) == plain


# -- JudgeStore ---------------------------------------------------------------------------------


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "judge.sqlite"


@pytest.fixture
def store(store_path: Path) -> Iterator[JudgeStore]:
    opened = JudgeStore(store_path)
    yield opened
    opened.close()


def test_store_get_put_replace_and_len(store: JudgeStore) -> None:
    assert store.get("missing") is None
    assert len(store) == 0
    store.put("k1", {"result": "yes", "rationale": "fine", "usage": {"cost": 0.5}})
    assert store.get("k1") == {"result": "yes", "rationale": "fine", "usage": {"cost": 0.5}}
    assert store.get("k2") is None
    assert len(store) == 1
    store.put("k1", {"result": "no"})
    assert store.get("k1") == {"result": "no"}
    assert len(store) == 1
    store.put("k2", {"result": 3})
    assert len(store) == 2
    assert store.get("k2") == {"result": 3}


def test_store_survives_reopening(store_path: Path) -> None:
    first = JudgeStore(store_path)
    first.put("k", {"result": "yes"})
    first.close()
    second = JudgeStore(store_path)
    try:
        assert second.get("k") == {"result": "yes"}
        assert len(second) == 1
    finally:
        second.close()


def test_store_file_is_in_wal_mode(store: JudgeStore, store_path: Path) -> None:
    store.put("k", {"result": "yes"})
    other = sqlite3.connect(store_path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        other.close()


def test_stored_reply_holds_no_api_key(
    store: JudgeStore, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    reply = JudgeReply(
        result="yes",
        rationale="polite enough",
        text='{"result": "yes", "rationale": "polite enough"}',
        model=MODEL,
        attempts=1,
        usage=Usage(input_tokens=11, output_tokens=7, cost=0.001),
    )
    key = cache_key(
        model=MODEL,
        identity=IDENTITY,
        messages=QUESTION,
        params={"temperature": 0, "api_key": PARAM_KEY, "Authorization": f"Bearer {ENV_KEY}"},
    )
    store.put(key, reply.stored())
    value = store.get(key)
    assert value == {
        "result": "yes",
        "rationale": "polite enough",
        "text": '{"result": "yes", "rationale": "polite enough"}',
        "model": MODEL,
        "usage": {"input_tokens": 11, "output_tokens": 7, "cost": 0.001},
    }
    store.close()
    _assert_no_secret_in_files(store_path, ENV_KEY, PARAM_KEY)


def _assert_no_secret_in_files(store_path: Path, *secrets: str) -> None:
    files = [p for p in store_path.parent.iterdir() if p.name.startswith(store_path.name)]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path.name
    db = sqlite3.connect(store_path)
    try:
        rows = db.execute("SELECT key, value FROM verdicts").fetchall()
    finally:
        db.close()
    assert rows
    for key, value in rows:
        for secret in secrets:
            assert secret not in key
            assert secret not in value


def test_reserve_call_counts_and_refuses_with_a_reason(store: JudgeStore) -> None:
    assert store.spend("run") == Spend()
    assert store.reserve_call("run", 2, None) is None
    assert store.reserve_call("run", 2, None) is None
    assert store.spend("run") == Spend(calls=2, cost=0.0, refused=0)
    reason = store.reserve_call("run", 2, None)
    assert reason == "2 of at most 2 judge calls made"
    assert store.reserve_call("run", 2, None) is not None
    assert store.spend("run") == Spend(calls=2, cost=0.0, refused=2)


def test_reserve_call_without_limits_only_counts(store: JudgeStore) -> None:
    for _ in range(5):
        assert store.reserve_call("run", None, None) is None
    assert store.spend("run") == Spend(calls=5, cost=0.0, refused=0)


def test_a_limit_of_zero_calls_refuses_the_first(store: JudgeStore) -> None:
    assert store.reserve_call("run", 0, None) == "0 of at most 0 judge calls made"
    assert store.spend("run") == Spend(calls=0, cost=0.0, refused=1)


def test_max_cost_with_add_cost(store: JudgeStore) -> None:
    assert store.reserve_call("run", None, 0.01) is None
    store.add_cost("run", 0.004)
    assert store.reserve_call("run", None, 0.01) is None
    store.add_cost("run", 0.006)
    spent = store.spend("run")
    assert (spent.calls, spent.refused) == (2, 0)
    assert spent.cost == pytest.approx(0.01)
    reason = store.reserve_call("run", None, 0.01)
    assert reason is not None
    assert "$0.01 spent of at most $0.01" in reason
    assert store.spend("run").refused == 1
    store.add_cost("run", 0)  # nothing
    assert store.spend("run").cost == pytest.approx(0.01)


def test_limits_are_per_run_id(store: JudgeStore) -> None:
    assert store.reserve_call("run-a", 1, None) is None
    assert store.reserve_call("run-a", 1, None) is not None
    assert store.reserve_call("run-b", 1, None) is None
    store.add_cost("run-b", 5.0)
    assert store.reserve_call("run-c", None, 1.0) is None
    assert store.spend("run-a") == Spend(calls=1, cost=0.0, refused=1)
    assert store.spend("run-b") == Spend(calls=1, cost=5.0, refused=0)
    assert store.spend("run-c") == Spend(calls=1, cost=0.0, refused=0)
    assert store.spend("run-d") == Spend()


def test_old_spend_rows_are_dropped_when_the_file_is_opened(store_path: Path) -> None:
    first = JudgeStore(store_path)
    first.reserve_call("old", None, None)
    first.reserve_call("new", None, None)
    first.close()
    db = sqlite3.connect(store_path, isolation_level=None)
    try:
        stale = time.time() - (SPEND_DAYS + 1) * 86400
        db.execute("UPDATE spend SET updated = ? WHERE run = 'old'", (stale,))
    finally:
        db.close()
    second = JudgeStore(store_path)
    try:
        assert second.spend("old") == Spend()
        assert second.spend("new").calls == 1
    finally:
        second.close()


def test_reserve_call_is_atomic_across_threads(store: JudgeStore) -> None:
    start = threading.Barrier(8)
    allowed: list[int] = []

    def reserve() -> None:
        start.wait()
        allowed.append(sum(store.reserve_call("run", 50, None) is None for _ in range(10)))

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sum(allowed) == 50
    assert store.spend("run") == Spend(calls=50, cost=0.0, refused=30)


def _reserve_many(path: str, run: str, tries: int, max_calls: int, start: Any, out: Any) -> None:
    """A child process: reserve `tries` calls against `max_calls` and report how many were let."""
    store = JudgeStore(Path(path))
    try:
        start.wait(30)
        allowed = sum(store.reserve_call(run, max_calls, None) is None for _ in range(tries))
        out.put(("ok", allowed))
    except BaseException as exc:
        out.put(("error", repr(exc)))
    finally:
        store.close()


@pytest.mark.parametrize("fresh", [False, True], ids=["existing-file", "new-file"])
def test_reserve_call_is_atomic_across_processes(store_path: Path, fresh: bool) -> None:
    if not fresh:
        made = JudgeStore(store_path)
        assert made.spend("run") == Spend()  # the file and its tables exist before the race
        made.close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    out = context.Queue()
    processes = [
        context.Process(target=_reserve_many, args=(str(store_path), "run", 25, 30, start, out))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    try:
        start.set()
        results = [out.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    assert [kind for kind, _ in results] == ["ok"] * 4, results
    assert sum(allowed for _, allowed in results) == 30
    check = JudgeStore(store_path)
    try:
        assert check.spend("run") == Spend(calls=30, cost=0.0, refused=70)
    finally:
        check.close()


@pytest.mark.parametrize(
    "content",
    [os.urandom(4096), b"this is not a database\n" * 200, b"{}"],
    ids=["random-bytes", "text", "tiny"],
)
def test_a_corrupt_file_is_moved_aside_and_replaced(store_path: Path, content: bytes) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(content)
    store = JudgeStore(store_path)
    try:
        with pytest.warns(CacheWarning, match="could not be read") as caught:
            assert store.get("k") is None
        assert len(caught) == 1
        aside = list(store_path.parent.glob("judge.sqlite.corrupt-*"))
        [moved] = [p for p in aside if not p.name.endswith(("-wal", "-shm"))]
        assert moved.read_bytes() == content
        assert len(store.problems) == 1
        assert str(store_path) in store.problems[0]
        assert moved.name in store.problems[0]
        assert moved.name in str(caught[0].message)
        # and the new file works
        store.put("k", {"result": "yes"})
        assert store.get("k") == {"result": "yes"}
        assert len(store) == 1
        assert store.reserve_call("run", 1, None) is None
        assert store.reserve_call("run", 1, None) is not None
    finally:
        store.close()
    reopened = JudgeStore(store_path)
    try:
        assert reopened.get("k") == {"result": "yes"}
        assert reopened.problems == []
    finally:
        reopened.close()


def test_a_locked_file_is_waited_on_for_a_bounded_time(store_path: Path) -> None:
    store = JudgeStore(store_path, busy_seconds=0.2)
    store.put("k", {"result": "yes"})
    other = sqlite3.connect(store_path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        # WAL: readers are not blocked by the writer
        assert store.get("k") == {"result": "yes"}
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.put("k2", {"result": "no"})
        waited = time.monotonic() - started
        assert 0.1 <= waited < 1.0
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.reserve_call("run", 5, None)
        assert time.monotonic() - started < 1.0
        # a second process opening the file meanwhile: unavailable, not "corrupt"
        late = JudgeStore(store_path, busy_seconds=0.2)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            late.put("k3", {"result": "no"})
        assert time.monotonic() - started < 1.0
        assert late.problems == []
        assert list(store_path.parent.glob("*.corrupt-*")) == []
        other.execute("COMMIT")
        store.put("k2", {"result": "no"})
        assert store.get("k2") == {"result": "no"}
        assert store.reserve_call("run", 5, None) is None
        assert store.spend("run") == Spend(calls=1, cost=0.0, refused=0)
        late.put("k3", {"result": "maybe"})
        assert len(late) == 3
        late.close()
    finally:
        other.close()
        store.close()
    assert store.problems == []


# -- the judge client with a store, over HTTP ---------------------------------------------------


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def make_client(
    llm_server: LLMServer, store: JudgeStore, no_env_key: None
) -> Callable[..., JudgeClient]:
    def make(
        cache: str = "auto",
        *,
        store_: JudgeStore | None = store,
        run_id: str = "run-1",
        sleep: Callable[[float], None] | None = None,
        **settings: Any,
    ) -> JudgeClient:
        fields: dict[str, Any] = {
            "judge_model": MODEL,
            "judge_base_url": llm_server.base_url,
            "judge_timeout": 5,
            "judge_retries": 2,
            "cache": cache,
        }
        fields.update(settings)
        return JudgeClient(
            Settings(**fields),
            backoff_base=0.01,
            sleep=sleep or (lambda seconds: None),
            store=store_,
            run_id=run_id,
        )

    return make


def test_auto_asks_once_then_answers_from_the_cache(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    client = make_client("auto")
    llm_server.script(verdict("no", "rude"), verdict("yes", "second answer, never used"))
    first = client.ask(QUESTION, identity=IDENTITY)
    assert (first.result, first.rationale, first.cached, first.attempts) == ("no", "rude", False, 1)
    assert len(llm_server.requests) == 1
    assert len(store) == 1
    again = client.ask(QUESTION, identity=dict(reversed(list(IDENTITY.items()))))
    assert len(llm_server.requests) == 1
    assert (again.result, again.rationale, again.cached, again.attempts) == ("no", "rude", True, 0)
    assert again.model == MODEL
    assert again.text == first.text
    assert (again.saved.input_tokens, again.saved.output_tokens) == (11, 7)
    assert (again.input_tokens, again.output_tokens, again.cost) == (None, None, None)
    # a new client (another worker, a later run) reads the same file
    later = make_client("auto", run_id="run-2").ask(QUESTION, identity=IDENTITY)
    assert (later.result, later.cached) == ("no", True)
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize(
    "ask",
    [
        {"messages": OTHER_QUESTION},
        {"identity": {**IDENTITY, "judge": "other"}},
        {"identity": {**IDENTITY, "instructions": "ffffffffffffffff"}},
        {"identity": {**IDENTITY, "repeat": 1}},
        {"model": "openai/judge-other"},
        {"inference_params": {"temperature": 0.7}},
    ],
    ids=["message", "judge", "instructions", "repeat", "model", "temperature"],
)
def test_auto_misses_on_a_different_question(
    make_client: Callable[..., JudgeClient],
    llm_server: LLMServer,
    store: JudgeStore,
    ask: dict[str, Any],
) -> None:
    client = make_client("auto")
    llm_server.script(verdict("yes"), verdict("no"))
    assert client.ask(QUESTION, identity=IDENTITY).result == "yes"
    args: dict[str, Any] = {"messages": QUESTION, "identity": IDENTITY, **ask}
    reply = client.ask(args.pop("messages"), **args)
    assert (reply.result, reply.cached) == ("no", False)
    assert len(llm_server.requests) == 2
    assert len(store) == 2


def test_the_settings_temperature_is_part_of_the_key(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer
) -> None:
    llm_server.script(verdict("yes"), verdict("no"))
    assert make_client("auto").ask(QUESTION, identity=IDENTITY).result == "yes"
    warm = make_client("auto", judge_temperature=0.9).ask(QUESTION, identity=IDENTITY)
    assert (warm.result, warm.cached) == ("no", False)
    assert len(llm_server.requests) == 2


def test_record_always_asks_and_overwrites(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    recorder = make_client("record")
    llm_server.script(verdict("yes", "first"), verdict("no", "second"))
    assert recorder.ask(QUESTION, identity=IDENTITY).result == "yes"
    second = recorder.ask(QUESTION, identity=IDENTITY)
    assert (second.result, second.cached) == ("no", False)
    assert len(llm_server.requests) == 2
    assert len(store) == 1
    reader = make_client("auto")
    read = reader.ask(QUESTION, identity=IDENTITY)
    assert (read.result, read.rationale, read.cached) == ("no", "second", True)
    assert len(llm_server.requests) == 2


def test_replay_hit_needs_no_key_and_no_server(
    make_client: Callable[..., JudgeClient],
    llm_server: LLMServer,
    store: JudgeStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm_server.script(verdict("no", "recorded"))
    make_client("record").ask(QUESTION, identity=IDENTITY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    offline = JudgeClient(
        Settings(judge_model=MODEL, judge_base_url="http://127.0.0.1:9/v1", cache="replay"),
        sleep=lambda seconds: None,
        store=store,
        run_id="replay-run",
    )
    reply = offline.ask(QUESTION, identity=IDENTITY)
    assert (reply.result, reply.rationale, reply.cached, reply.attempts) == (
        "no",
        "recorded",
        True,
        0,
    )
    # no base URL and no key at all: still answered from the file
    keyless = JudgeClient(Settings(judge_model="openai/gpt-4o-mini", cache="replay"), store=store)
    llm_server.script(verdict("yes"))
    make_client("record").ask(QUESTION, model="openai/gpt-4o-mini", identity=IDENTITY)
    assert keyless.ask(QUESTION, identity=IDENTITY).result == "yes"
    assert len(llm_server.requests) == 2


def test_replay_miss_is_a_judge_error_that_says_how_to_record(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    client = make_client("replay")
    with pytest.raises(ReplayMiss) as caught:
        client.ask(QUESTION, identity=IDENTITY)
    assert isinstance(caught.value, JudgeError)
    message = str(caught.value)
    assert "--genai-cache=record" in message
    assert "'polite'" in message
    assert caught.value.attempts == 0
    assert llm_server.requests == []
    assert len(store) == 0


def test_off_mode_makes_no_file(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store_path: Path
) -> None:
    client = make_client("off")
    client.ask(QUESTION, identity=IDENTITY)
    client.ask(QUESTION, identity=IDENTITY)
    assert len(llm_server.requests) == 2
    assert not store_path.exists()
    assert not store_path.parent.exists() or list(store_path.parent.iterdir()) == []


def test_no_identity_is_never_cached(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    client = make_client("auto")
    llm_server.script(verdict("yes"), verdict("no"))
    assert client.ask(QUESTION).result == "yes"
    second = client.ask(QUESTION)
    assert (second.result, second.cached) == ("no", False)
    assert len(llm_server.requests) == 2
    assert len(store) == 0


def test_secrets_are_not_cached_and_do_not_change_the_key(
    make_client: Callable[..., JudgeClient],
    llm_server: LLMServer,
    store: JudgeStore,
    store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client("auto")
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    client.ask(QUESTION, identity=IDENTITY, inference_params={"api_key": PARAM_KEY})
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {PARAM_KEY}"
    again = client.ask(QUESTION, identity=IDENTITY)
    assert again.cached
    assert len(llm_server.requests) == 1
    store.close()
    _assert_no_secret_in_files(store_path, ENV_KEY, PARAM_KEY)


def test_a_reply_that_echoes_a_key_is_cached_without_it(
    make_client: Callable[..., JudgeClient],
    llm_server: LLMServer,
    store: JudgeStore,
    store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The judged output leaked a key and the judge quotes it: the cache file (kept, shared for
    # replay) must not hold it, just as reports and judge errors mask it.
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    client = make_client("auto")
    llm_server.script(verdict("no", f"the output leaks the key {ENV_KEY}"))
    reply = client.ask(QUESTION, identity=IDENTITY)
    assert reply.result == "no"
    store.close()
    _assert_no_secret_in_files(store_path, ENV_KEY)


def test_a_locked_store_falls_back_to_asking(
    llm_server: LLMServer, store_path: Path, no_env_key: None
) -> None:
    store = JudgeStore(store_path, busy_seconds=0.2)
    store.put("unrelated", {"result": "yes"})
    client = JudgeClient(
        Settings(judge_model=MODEL, judge_base_url=llm_server.base_url, cache="auto"),
        store=store,
    )
    client.ask(OTHER_QUESTION)  # warm up: litellm's import and first request are slow
    other = sqlite3.connect(store_path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        assert client.ask(QUESTION, identity=IDENTITY).result == "yes"
        assert time.monotonic() - started < 1.5
        assert len(llm_server.requests) == 2
        assert any("a verdict was not cached" in p for p in client.store_problems)
        other.execute("COMMIT")
    finally:
        other.close()
    try:
        assert client.ask(QUESTION, identity=IDENTITY).cached is False
        assert client.ask(QUESTION, identity=IDENTITY).cached is True
        assert len(llm_server.requests) == 3
    finally:
        store.close()


# -- the budget ---------------------------------------------------------------------------------


def test_max_judge_calls_refuses_the_call_over_the_limit(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    client = make_client("off", max_judge_calls=2)
    client.ask(QUESTION, identity=IDENTITY)
    client.ask(OTHER_QUESTION)
    with pytest.raises(BudgetExhausted, match="judge budget exhausted") as caught:
        client.ask(QUESTION, identity={**IDENTITY, "repeat": 5})
    assert isinstance(caught.value, JudgeError)
    assert "2 of at most 2 judge calls made" in str(caught.value)
    assert len(llm_server.requests) == 2
    assert store.spend("run-1") == Spend(calls=2, cost=0.0, refused=1)


def test_cached_answers_do_not_count_against_the_limit(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    client = make_client("auto", max_judge_calls=2)
    client.ask(QUESTION, identity=IDENTITY)
    for _ in range(3):
        assert client.ask(QUESTION, identity=IDENTITY).cached
    client.ask(OTHER_QUESTION, identity=IDENTITY)
    assert client.ask(OTHER_QUESTION, identity=IDENTITY).cached
    assert len(llm_server.requests) == 2
    with pytest.raises(BudgetExhausted, match="judge budget exhausted"):
        client.ask(QUESTION, identity={**IDENTITY, "judge": "new"})
    assert len(llm_server.requests) == 2
    assert store.spend("run-1") == Spend(calls=2, cost=0.0, refused=1)
    # the limit is the run's: another run id starts afresh
    make_client("auto", max_judge_calls=2, run_id="run-2").ask(
        QUESTION, identity={**IDENTITY, "judge": "new"}
    )
    assert len(llm_server.requests) == 3


def test_the_limit_is_shared_by_the_clients_of_a_run(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer
) -> None:
    worker_a = make_client("off", max_judge_calls=3)
    worker_b = make_client("off", max_judge_calls=3)
    worker_a.ask(QUESTION)
    worker_b.ask(QUESTION)
    worker_a.ask(QUESTION)
    with pytest.raises(BudgetExhausted):
        worker_b.ask(QUESTION)
    assert len(llm_server.requests) == 3


def test_max_cost_counts_what_the_calls_cost(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    client = make_client("auto", judge_model="openai/gpt-4o-mini", max_cost=1e-9)
    first = client.ask(QUESTION, identity=IDENTITY)
    assert first.cost is not None and first.cost > 0
    assert store.spend("run-1").cost == pytest.approx(first.cost)
    assert client.ask(QUESTION, identity=IDENTITY).cached  # free
    with pytest.raises(BudgetExhausted, match=r"judge budget exhausted: \$0\.0000\d* spent"):
        client.ask(OTHER_QUESTION, identity=IDENTITY)
    assert len(llm_server.requests) == 1
    assert store.spend("run-1").refused == 1


def test_a_failed_call_counts_too(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer, store: JudgeStore
) -> None:
    client = make_client("auto", max_judge_calls=1)
    llm_server.script(status(400, message="bad request"))
    with pytest.raises(JudgeError):
        client.ask(QUESTION, identity=IDENTITY)
    with pytest.raises(BudgetExhausted):
        client.ask(QUESTION, identity=IDENTITY)
    assert len(llm_server.requests) == 1
    assert len(store) == 0


# -- RateGate -----------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append((threading.current_thread().name, seconds))


def _in_thread(name: str, action: Callable[[], None]) -> None:
    thread = threading.Thread(target=action, name=name)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()


def test_rate_gate_holds_back_other_threads() -> None:
    fake = FakeTime()
    gate = RateGate(fake.sleep, fake.clock)
    gate.wait()  # nothing held
    assert fake.sleeps == []
    gate.hold(5.0)  # by the main thread, until 105
    gate.wait()  # the holder itself does not wait at the gate
    assert fake.sleeps == []
    fake.now = 102.0
    _in_thread("other", gate.wait)
    assert fake.sleeps == [("other", pytest.approx(3.0))]
    assert gate.waits == 1
    # a shorter hold (until 103) by another thread does not shorten the longer one
    _in_thread("shorter", lambda: (gate.hold(1.0), gate.wait()))
    _in_thread("third", gate.wait)
    assert fake.sleeps[1:] == [("shorter", pytest.approx(3.0)), ("third", pytest.approx(3.0))]
    gate.wait()  # still the main thread's hold
    assert len(fake.sleeps) == 3
    # a longer hold by another thread takes over, and now the main thread waits too
    _in_thread("longer", lambda: gate.hold(10.0))  # until 112
    gate.wait()
    assert fake.sleeps[-1] == ("MainThread", pytest.approx(10.0))
    fake.now = 112.5
    gate.wait()
    _in_thread("after", gate.wait)
    assert len(fake.sleeps) == 4
    assert gate.waits == 4


def test_rate_gate_held_over_http_keeps_other_requests_back(
    make_client: Callable[..., JudgeClient], llm_server: LLMServer
) -> None:
    slept: list[tuple[str, float]] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            slept.append((threading.current_thread().name, seconds))
        time.sleep(seconds)

    client = make_client("off", sleep=sleep)
    hold_seconds = 0.6
    held = threading.Event()
    held_at: list[float] = []
    hold = client.gate.hold

    def recording_hold(seconds: float) -> None:
        hold(seconds)
        held_at.append(time.monotonic())
        held.set()

    client.gate.hold = recording_hold  # type: ignore[method-assign]
    llm_server.script(
        status(429, retry_after=hold_seconds, message="rate limit"),
        verdict("yes", "after the hold"),
        verdict("yes", "after the hold"),
    )
    results: dict[str, Any] = {}
    first_sent = threading.Event()

    def ask(name: str) -> None:
        try:
            if name == "second":
                # both ask at once; the second question goes out once the first got its 429
                assert first_sent.wait(5)
                assert held.wait(5)
            else:
                first_sent.set()
            results[name] = client.ask(QUESTION)
        except BaseException as exc:
            results[name] = exc

    threads = [threading.Thread(target=ask, args=(n,), name=n) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(isinstance(results[n], JudgeReply) for n in ("first", "second")), results
    assert results["first"].attempts == 2
    assert results["second"].attempts == 1
    assert len(llm_server.requests) == 3
    limited = llm_server.requests[0]
    hold_ends = limited.received_at + hold_seconds
    for later in llm_server.requests[1:]:
        assert later.received_at >= hold_ends - 0.05, later.received_at - limited.received_at
    assert held_at[0] >= limited.received_at
    # the holder slept its own back-off once and did not wait at the gate as well
    assert [s for name, s in slept if name == "first"] == [pytest.approx(hold_seconds)]
    [(_, second_wait)] = [(n, s) for n, s in slept if n == "second"]
    assert 0 < second_wait <= hold_seconds
    assert client.gate.waits == 1


# -- the judge's identity -----------------------------------------------------------------------

INSTRUCTIONS = "Is {{ outputs }} polite?"


def test_identity_is_equal_for_identical_judges() -> None:
    first = make_judge("polite", INSTRUCTIONS)
    second = make_judge("polite", INSTRUCTIONS)
    assert first.identity() == second.identity()
    assert set(first.identity()) == {"judge", "instructions", "result", "pass_rule"}
    assert first.identity()["judge"] == "polite"
    assert INSTRUCTIONS not in str(first.identity())  # a digest, not the text


def test_identity_changes_with_name_instructions_and_result_type() -> None:
    base = make_judge("polite", INSTRUCTIONS).identity()
    renamed = make_judge("courteous", INSTRUCTIONS).identity()
    reworded = make_judge("polite", "Is {{ outputs }} polite and kind?").identity()
    boolean = make_judge("polite", INSTRUCTIONS, feedback_type=bool).identity()
    assert renamed["judge"] != base["judge"]
    assert reworded["instructions"] != base["instructions"]
    assert reworded != base
    assert boolean["result"] != base["result"]
    labels = make_judge("tone", INSTRUCTIONS, feedback_type=["a", "b"], pass_if=_is_a)
    other_labels = make_judge("tone", INSTRUCTIONS, feedback_type=["a", "c"], pass_if=_is_a)
    assert labels.identity()["result"] != other_labels.identity()["result"]


def _is_a(label: str) -> bool:
    return label == "a"


def _over_three(value: float) -> bool:
    return value > 3


def _over_four(value: float) -> bool:
    return value > 4


def test_identity_changes_with_the_pass_rule() -> None:
    def score(**rule: Any) -> dict[str, str]:
        return make_judge("score", INSTRUCTIONS, feedback_type=int, **rule).identity()

    assert score(threshold=3) == score(threshold=3)
    assert score(threshold=3)["pass_rule"] != score(threshold=4)["pass_rule"]
    assert score(threshold=3)["pass_rule"] != score(pass_if=_over_three)["pass_rule"]
    assert score(pass_if=_over_three) == score(pass_if=_over_three)
    assert score(pass_if=_over_three)["pass_rule"] != score(pass_if=_over_four)["pass_rule"]
    assert (
        score(pass_if=lambda v: v > 3)["pass_rule"] != score(pass_if=lambda v: v > 4)["pass_rule"]
    )
    yes_no = make_judge("polite", INSTRUCTIONS).identity()
    checked = make_judge("polite", INSTRUCTIONS, pass_if=lambda v: v != "no").identity()
    assert yes_no["pass_rule"] != checked["pass_rule"]


def _at_least(limit: float) -> Callable[[float], bool]:
    def passes(value: float) -> bool:
        return value >= limit

    return passes


def test_identity_changes_with_a_pass_rule_made_by_a_factory() -> None:
    # `pass_if=at_least(3)` and `pass_if=at_least(4)` are different pass bars
    three = make_judge("score", INSTRUCTIONS, feedback_type=int, pass_if=_at_least(3))
    four = make_judge("score", INSTRUCTIONS, feedback_type=int, pass_if=_at_least(4))
    assert three.pass_rule(3) is True
    assert four.pass_rule(3) is False
    assert three.identity()["pass_rule"] != four.identity()["pass_rule"]


def test_repeat_index_comes_from_case_repeat_when_set() -> None:
    assert _repeat_index() == 0
    token = CASE_REPEAT.set(3)
    try:
        assert _repeat_index() == 3
    finally:
        CASE_REPEAT.reset(token)
    assert _repeat_index() == 0
    token = CASE_REPEAT.set(0)
    try:
        assert _repeat_index() == 0
    finally:
        CASE_REPEAT.reset(token)


@pytest.mark.parametrize("case", [SimpleNamespace(repeat=2)], ids=["r2"])
def test_repeat_index_of_a_dataset_case(case: Any) -> None:
    assert _repeat_index() == 2
    token = CASE_REPEAT.set(5)
    try:
        assert _repeat_index() == 5  # a deferred call names its case's run itself
    finally:
        CASE_REPEAT.reset(token)


def test_a_judge_caches_per_repeat(
    make_client: Callable[..., JudgeClient],
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client("auto")
    monkeypatch.setattr(judge_base, "judge_client", lambda: (client, MODEL))
    judge = make_judge("polite", INSTRUCTIONS)
    llm_server.script(verdict("yes", "run 0"), verdict("no", "run 1"))

    def score() -> Any:
        return judge.score(None, "hello", None, None, None)

    first = score()
    assert (first.value, first.metadata.get("cached")) == ("yes", None)
    cached = score()
    assert (cached.value, cached.metadata.get("cached")) == ("yes", True)
    assert cached.metadata["requests"] == 0
    token = CASE_REPEAT.set(1)
    try:
        second_run = score()
        assert (second_run.value, second_run.metadata.get("cached")) == ("no", None)
        assert score().metadata.get("cached") is True
    finally:
        CASE_REPEAT.reset(token)
    assert len(llm_server.requests) == 2
    # the same judge, re-made with the same definition, hits the same entries
    again = make_judge("polite", INSTRUCTIONS)
    monkeypatch.setattr(judge_base, "judge_client", lambda: (client, MODEL))
    assert again.score(None, "hello", None, None, None).metadata.get("cached") is True
    reworded = make_judge("polite", "Is {{ outputs }} polite, really?")
    llm_server.script(verdict("no"))
    assert reworded.score(None, "hello", None, None, None).metadata.get("cached") is None
    assert len(llm_server.requests) == 3


IDENTITY_SCRIPT = """
from pytest_genai import make_judge

def at_least(n):
    return lambda v: v >= n

tone = make_judge("tone", "Tone of {{ outputs }}?", feedback_type=["good", "ok", "bad"],
                  pass_if=lambda v: v in {"good", "ok"})
score = make_judge("score", "Score {{ outputs }}", feedback_type=int, pass_if=at_least(3))
print(tone.identity()["pass_rule"], score.identity()["pass_rule"])
"""


def test_identity_is_the_same_in_every_process(tmp_path: Path) -> None:
    """A set literal's order follows string hashing, which differs per process: the identity
    (the cache key, genai.lock) must not."""
    import subprocess
    import sys

    script = tmp_path / "judges_here.py"
    script.write_text(IDENTITY_SCRIPT)
    outputs = {
        subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(outputs) == 1, outputs


def test_a_cache_path_that_is_not_a_file_is_unavailable_not_moved(tmp_path: Path) -> None:
    """Only a damaged file is moved aside: one that can't be opened is left as it is."""
    path = tmp_path / "judge.sqlite"
    path.mkdir()
    (path / "keep").write_text("mine")
    store = JudgeStore(path, busy_seconds=0.2)
    with pytest.raises(StoreUnavailable):
        store.get("k")
    assert (path / "keep").read_text() == "mine"
    assert not list(tmp_path.glob("judge.sqlite.corrupt-*"))
    assert store.problems == []


def test_replay_with_no_store_asks_no_model(llm_server: LLMServer) -> None:
    settings = Settings(
        judge_model="openai/judge-test", judge_base_url=llm_server.base_url, cache="replay"
    )
    client = JudgeClient(settings)
    with pytest.raises(ReplayMiss, match="asks no model"):
        client.ask(QUESTION, identity={"judge": "polite"})
    assert llm_server.requests == []


def test_the_first_request_goes_alone_then_the_waiting_threads_together(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_genai.judges import client as client_module

    monkeypatch.setattr(client_module, "_first_call_done", threading.Event())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    llm_server.latency = 0.3
    client = JudgeClient(
        Settings(judge_model="openai/judge-test", judge_base_url=llm_server.base_url)
    )
    threads = [
        threading.Thread(target=client.ask, args=([{"role": "user", "content": f"question {i}"}],))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = sorted(r.received_at for r in llm_server.requests)
    assert len(times) == 4
    assert times[1] - times[0] >= 0.25  # the first one alone
    assert times[3] - times[1] < 0.2, times  # the three that waited, together
