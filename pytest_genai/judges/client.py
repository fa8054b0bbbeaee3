"""One synchronous way to ask a judge model through litellm, with our own retries.

litellm is imported on first use only. Its own retries are off (`num_retries=0`, which would
need `tenacity`) and so are the OpenAI SDK's (`max_retries=0`), so one attempt here is one HTTP
request, and the retry policy is ours: 429, 5xx, timeouts and connection errors are retried with
exponential backoff and jitter, honouring `Retry-After`; other errors are not.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import os
import random
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pytest_genai.errors import BudgetExhausted, JudgeError, ReplayMiss
from pytest_genai.judges.parsing import ReplyParseError, parse_reply
from pytest_genai.secrets import MASK, SECRET_FIELD

if TYPE_CHECKING:
    from pydantic import BaseModel

    from pytest_genai.cache import JudgeStore
    from pytest_genai.config import Settings

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
MAX_RETRY_AFTER = 60.0
REASK = (
    "Your previous reply could not be read as the JSON object asked for. Reply again with only "
    "that JSON object, with the keys 'rationale' and 'result', and nothing else."
)


@dataclasses.dataclass
class Usage:
    """Tokens and price of the answers a judge question got (a re-ask included)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None

    def add(self, tokens: tuple[int | None, int | None], cost: float | None) -> None:
        if tokens[0] is not None:
            self.input_tokens = (self.input_tokens or 0) + tokens[0]
        if tokens[1] is not None:
            self.output_tokens = (self.output_tokens or 0) + tokens[1]
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost


@dataclasses.dataclass
class JudgeReply:
    """What one judge question produced."""

    result: Any
    rationale: str
    text: str
    model: str
    attempts: int
    usage: Usage = dataclasses.field(default_factory=Usage)
    cached: bool = False
    """Answered from the judge cache: no request made; `saved` is what the original cost."""
    saved: Usage = dataclasses.field(default_factory=Usage)

    def stored(self) -> dict[str, Any]:
        """What the judge cache keeps of this reply (no request parameters; secrets the
        model's words may quote are masked)."""
        from pytest_genai.secrets import Redactor

        redact = Redactor()
        return {
            "result": self.result,
            "rationale": redact(self.rationale),
            "text": redact(self.text),
            "model": self.model,
            "usage": dataclasses.asdict(self.usage),
        }

    @classmethod
    def from_cache(cls, value: Mapping[str, Any]) -> JudgeReply:
        usage = Usage(**{k: v for k, v in (value.get("usage") or {}).items() if k in _USAGE})
        return cls(
            result=value["result"],
            rationale=value.get("rationale") or "",
            text=value.get("text") or "",
            model=value.get("model") or "",
            attempts=0,
            cached=True,
            saved=usage,
        )

    @property
    def input_tokens(self) -> int | None:
        return self.usage.input_tokens

    @property
    def output_tokens(self) -> int | None:
        return self.usage.output_tokens

    @property
    def cost(self) -> float | None:
        return self.usage.cost


_USAGE = frozenset(f.name for f in dataclasses.fields(Usage))
_READONLY = r".*`ReadOnly` qualifier"


def import_litellm() -> Any:
    """litellm, imported quietly: the cost map from the package (no download at import), no
    banner on errors, and none of the pydantic warnings its own types raise on first use."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # pytest restores the warning filters after each test: put ours back when they are gone
    if not any(f[1] is not None and f[1].pattern == _READONLY for f in warnings.filters):
        warnings.filterwarnings("ignore", message=_READONLY, category=UserWarning)
        warnings.filterwarnings("ignore", module=r"litellm(\.|$)")
    import litellm

    litellm.suppress_debug_info = True
    if hasattr(litellm, "telemetry"):
        litellm.telemetry = False
    return litellm


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from a `Retry-After` (or `retry-after-ms`) header on the error, if any."""
    sources = (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    )
    for headers in sources:
        if not headers:
            continue
        try:
            ms = headers.get("retry-after-ms")
            if ms is not None:
                return max(0.0, float(ms) / 1000)
            seconds = headers.get("retry-after")
            if seconds is not None:
                return _seconds_until(seconds)
        except (TypeError, ValueError):
            continue
    return None


def _seconds_until(value: str) -> float:
    """A Retry-After value, delay-seconds or an HTTP date, as seconds from now (>= 0)."""
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        return max(0.0, (when - now).total_seconds())


def _rejects_response_format(exc: BaseException, status: int | None) -> bool:
    if status != 400:
        return False
    text = str(exc).lower()
    return any(word in text for word in ("response_format", "json_schema", "structured output"))


class RateGate:
    """Holds back the requests of every thread of a process after a rate limit (429): the
    thread that got it waits out its back-off as usual, and the others wait with it instead of
    adding to the storm."""

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self.sleep = sleep
        self.clock = clock
        self._until = 0.0
        self._owner: int | None = None
        self._lock = threading.Lock()
        self.waits = 0

    def hold(self, seconds: float) -> None:
        with self._lock:
            until = self.clock() + seconds
            if until > self._until:
                self._until, self._owner = until, threading.get_ident()

    def wait(self) -> None:
        with self._lock:
            delay = self._until - self.clock()
            if delay <= 0 or self._owner == threading.get_ident():
                return
            self.waits += 1
        self.sleep(delay)


RATE_LIMITED = frozenset({429, 529})

_first_call_done = threading.Event()
_first_call = threading.Lock()
"""The first judge request of a process goes alone: litellm loads modules lazily on a first
call, and first imports from several threads at once can see half-made modules. Threads that
come meanwhile wait for it; later requests overlap."""


class JudgeClient:
    """Asks judge models; one per process, shared by the threads of concurrent assertions.

    With a `store`, answers come from and go to the judge cache (as `settings.cache` says) and
    the run's spend limits are enforced across processes (`run_id` names the run there).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        store: JudgeStore | None = None,
        run_id: str = "",
    ) -> None:
        self.settings = settings
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.store = store
        self.run_id = run_id
        self.gate = RateGate(sleep, time.monotonic)
        self._no_structured: set[str] = set()
        self._providers: dict[str, str] = {}
        self._lock = threading.Lock()
        self.store_problems: list[str] = []

    # -- public ------------------------------------------------------------------------------

    def ask(
        self,
        messages: list[dict[str, str]],
        *,
        model: str | None = None,
        response_model: type[BaseModel] | None = None,
        inference_params: dict[str, Any] | None = None,
        validate: Callable[[Any], Any] | None = None,
        identity: Mapping[str, Any] | None = None,
    ) -> JudgeReply:
        """Ask one question and parse the verdict; re-ask once if the reply is unreadable.

        `validate` turns the parsed result into the judge's value; a `ValueError` from it makes
        the reply unreadable too (re-asked once, then a `JudgeError`). With `identity` (what
        makes the judge the judge it is) the answer may come from, and goes to, the judge cache.
        A call the spend limits don't allow raises `BudgetExhausted`.
        """
        model = model or self.settings.judge_model
        mode = self.settings.cache
        if mode == "replay" and (identity is None or self.store is None):
            raise ReplayMiss(
                "--genai-cache=replay asks no model, and this question can't be looked up in "
                "a judge cache (none is open here, or the question has no judge identity)"
            )
        key = None
        if identity is not None and self.store is not None and mode != "off":
            from pytest_genai.cache import cache_key

            params = {"temperature": self.settings.judge_temperature, **(inference_params or {})}
            key = cache_key(model=model, identity=identity, messages=messages, params=params)
            if mode in ("auto", "replay"):
                hit = self._stored(key)
                if hit is not None:
                    return hit
            if mode == "replay":
                raise ReplayMiss(
                    f"no cached verdict of judge {identity.get('judge', '?')!r} ({model}) for "
                    f"this question (key {key[:12]}) and --genai-cache=replay asks no model: "
                    "record it first with --genai-cache=record (or auto) where the judge can be "
                    "reached, and keep the cache file"
                )
        self._check_model(model)
        self._reserve()
        try:
            reply = self._ask(messages, model, response_model, inference_params, validate)
        except JudgeError as exc:
            self._spent(exc.usage.cost if isinstance(exc.usage, Usage) else None)
            raise
        self._spent(reply.cost)
        if key is not None and mode in ("auto", "record"):
            self._store(key, reply)
        return reply

    # -- the cache and the budget --------------------------------------------------------------

    def _stored(self, key: str) -> JudgeReply | None:
        from pytest_genai.cache import StoreUnavailable

        assert self.store is not None
        try:
            value = self.store.get(key)
        except StoreUnavailable as exc:
            self._problem(f"{exc}; the judge was asked instead")
            return None
        if value is None or "result" not in value:
            return None
        return JudgeReply.from_cache(value)

    def _store(self, key: str, reply: JudgeReply) -> None:
        from pytest_genai.cache import StoreUnavailable

        assert self.store is not None
        try:
            self.store.put(key, reply.stored())
        except StoreUnavailable as exc:
            self._problem(f"{exc}; a verdict was not cached")

    def _reserve(self) -> None:
        settings = self.settings
        if self.store is None or (settings.max_judge_calls is None and settings.max_cost is None):
            return
        from pytest_genai.cache import StoreUnavailable

        try:
            reason = self.store.reserve_call(
                self.run_id, settings.max_judge_calls, settings.max_cost
            )
        except StoreUnavailable as exc:
            reason = f"the spend could not be counted ({exc})"
        if reason is not None:
            raise BudgetExhausted(f"judge budget exhausted: {reason}; the judge was not asked")

    def _spent(self, cost: float | None) -> None:
        if not cost or self.store is None:
            return
        if self.settings.max_cost is None and self.settings.max_judge_calls is None:
            return
        from pytest_genai.cache import StoreUnavailable

        try:
            self.store.add_cost(self.run_id, cost)
        except StoreUnavailable as exc:
            self._problem(f"{exc}; a judge call's cost was not counted")

    def _problem(self, message: str) -> None:
        with self._lock:
            if message not in self.store_problems:
                self.store_problems.append(message)

    def _ask(
        self,
        messages: list[dict[str, str]],
        model: str,
        response_model: type[BaseModel] | None,
        inference_params: dict[str, Any] | None,
        validate: Callable[[Any], Any] | None,
    ) -> JudgeReply:
        conversation = list(messages)
        attempts = 0
        last_text = ""
        usage = Usage()
        for ask_number in range(2):
            try:
                response, made = self._complete(
                    conversation, model, response_model, inference_params
                )
            except JudgeError as exc:
                exc.attempts += attempts
                exc.usage = usage
                raise
            attempts += made
            text, finish_reason = _content(response)
            last_text = text
            usage.add(_usage(response), self._cost(response))
            try:
                if finish_reason == "length":
                    raise ReplyParseError("the reply was cut off (finish_reason 'length')")
                result, rationale = parse_reply(text)
                if validate is not None:
                    try:
                        result = validate(result)
                    except ValueError as exc:
                        raise ReplyParseError(f"it answered {result!r}: {exc}") from None
            except ReplyParseError as exc:
                if ask_number == 0:
                    conversation += [
                        {"role": "assistant", "content": text},
                        {"role": "user", "content": REASK},
                    ]
                    continue
                raise JudgeError(
                    f"judge {model} gave no usable verdict after a re-ask: {exc}",
                    raw_reply=text,
                    attempts=attempts,
                    usage=usage,
                ) from None
            return JudgeReply(
                result=result,
                rationale=rationale,
                text=text,
                model=model,
                attempts=attempts,
                usage=usage,
            )
        raise JudgeError(
            f"judge {model} gave no verdict", raw_reply=last_text, attempts=attempts, usage=usage
        )

    def unavailable_reason(self, model: str | None = None) -> str | None:
        """Why the judge can't be asked (unknown model, no credentials, a base URL that does not
        answer), or None when it looks ready. Makes no model call: for skipping tests early."""
        model = model or self.settings.judge_model
        try:
            self._check_model(model)
        except JudgeError as exc:
            return str(exc)
        base_url = self.settings.judge_base_url
        if base_url is not None:
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=3):
                    pass
            except urllib.error.HTTPError:
                pass  # it answered: some servers have no /models, or want a key for it
            except (OSError, ValueError) as exc:
                return f"the judge server at {base_url} does not answer: {exc}"
        return None

    # -- internals ---------------------------------------------------------------------------

    def _check_model(self, model: str) -> None:
        """Fail early, with the fix, on an unknown model or missing credentials."""
        if model in self._providers:
            return
        litellm = import_litellm()
        try:
            provider = litellm.get_llm_provider(model)[1]
        except Exception:
            raise JudgeError(
                f"unknown judge model {model!r}: use a litellm model string such as "
                "'openai/gpt-4o-mini' (set genai_judge_model or --genai-judge-model)"
            ) from None
        if self.settings.judge_base_url is None:
            try:
                env = litellm.validate_environment(model=model)
            except Exception:
                env = {"keys_in_environment": True}
            missing = env.get("missing_keys") or []
            if not env.get("keys_in_environment", True) and missing:
                raise JudgeError(
                    f"no credentials for the judge model {model!r} (provider {provider!r}): "
                    f"set {' or '.join(missing)}, or choose another judge with "
                    "genai_judge_model / --genai-judge-model (genai_judge_base_url for a "
                    "local OpenAI-compatible server)"
                )
        with self._lock:
            self._providers[model] = provider

    def _complete(
        self,
        messages: list[dict[str, str]],
        model: str,
        response_model: type[BaseModel] | None,
        inference_params: dict[str, Any] | None,
    ) -> tuple[Any, int]:
        """One completion with our retry policy; returns the response and the requests made."""
        litellm = import_litellm()
        settings = self.settings
        params: dict[str, Any] = {"temperature": settings.judge_temperature}
        params.update(inference_params or {})
        params.update(
            model=model,
            messages=messages,
            timeout=settings.judge_timeout,
            num_retries=0,
            max_retries=0,
        )
        if settings.judge_base_url is not None:
            params["api_base"] = settings.judge_base_url
            provider = self._providers.get(model, model.split("/", 1)[0])
            if not os.environ.get(f"{provider.upper().replace('-', '_')}_API_KEY"):
                # Local servers don't check keys, but the OpenAI SDK insists on one.
                params.setdefault("api_key", "no-key-needed")
        made = 0
        retries = 0
        while True:
            structured = response_model is not None and model not in self._no_structured
            if structured:
                params["response_format"] = response_model
            else:
                params.pop("response_format", None)
            made += 1
            self.gate.wait()
            try:
                if not _first_call_done.is_set():
                    with _first_call:
                        if not _first_call_done.is_set():  # threads that waited go together
                            try:
                                return litellm.completion(**params), made
                            finally:
                                _first_call_done.set()
                return litellm.completion(**params), made
            except Exception as exc:
                status = _status(exc)
                if structured and _rejects_response_format(exc, status):
                    with self._lock:
                        self._no_structured.add(model)
                    continue  # the same question with JSON instructions only
                retryable = status in RETRYABLE_STATUS or isinstance(
                    exc, (litellm.Timeout, litellm.APIConnectionError)
                )
                wait = _retry_after(exc)
                too_long = wait is not None and wait > MAX_RETRY_AFTER
                if not retryable or retries >= settings.judge_retries or too_long:
                    what = f"HTTP {status}" if status else type(exc).__name__
                    tried = f" after {made} requests" if made > 1 else ""
                    asked = f" (the provider asks to wait {wait:.0f} s)" if too_long else ""
                    message = f"judge request to {model} failed{tried}: {what}{asked}: "
                    raise JudgeError(
                        message + _secret_free(_message(exc), params), attempts=made
                    ) from None
                delay = self._delay(retries, wait)
                if status in RATE_LIMITED:
                    self.gate.hold(delay)
                self.sleep(delay)
                retries += 1

    def _delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_cap, self.backoff_base * 2**retry)
        return random.uniform(ceiling / 2, ceiling)

    def _cost(self, response: Any) -> float | None:
        """The price of the call from litellm's pricing table; None for an unknown model."""
        hidden = getattr(response, "_hidden_params", None) or {}
        if isinstance(hidden, dict) and "response_cost" in hidden:
            # litellm priced the call already (None: a model it has no price for)
            cost = hidden["response_cost"]
            return float(cost) if isinstance(cost, (int, float)) and cost >= 0 else None
        try:
            cost = import_litellm().completion_cost(completion_response=response)
        except Exception:
            return None
        return float(cost) if isinstance(cost, (int, float)) and cost >= 0 else None


def _secret_free(text: str, params: dict[str, Any]) -> str:
    """`text` without the values of secret-named request parameters (an `api_key` passed in
    `inference_params`); environment secrets are masked by `JudgeError` itself."""
    for key, value in params.items():
        if isinstance(value, str) and len(value) >= 8 and SECRET_FIELD.match(key):
            text = text.replace(value, MASK)
    return text


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:500] + ("…" if len(text) > 500 else "")


def _content(response: Any) -> tuple[str, str | None]:
    try:
        choice = response.choices[0]
        return choice.message.content or "", getattr(choice, "finish_reason", None)
    except (AttributeError, IndexError, TypeError):
        return "", None


def _usage(response: Any) -> tuple[int | None, int | None]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None, None
    return getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
