"""litellm autolog: each `litellm.completion` / `acompletion` the app makes becomes a span.

The span is made by us, around the call, so it ends when the call returns (or when a streamed
response is consumed) and nests under whatever span is current. litellm is patched right after
it is first imported (an import hook; nothing imports litellm for us), or at once when it was
imported already. Judge calls are not logged: a judge makes its own EVALUATOR span.

Recorded: the GenAI attributes (operation, system, request and response model, temperature,
max tokens, token usage, finish reasons, response id), the cost litellm computed, errors, and,
when `genai_capture_content` allows it, the messages and the reply. Never the API key, headers or
other call options.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.machinery
import os
import sys
import threading
from typing import Any

SUPPRESSED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pytest_genai_autolog_suppressed", default=False
)
"""True while a judge calls litellm: those calls are the judge's, not the app's."""

_PATCHED = "__pytest_genai_autolog__"
enabled = False
"""Set by a run with tracing on; the patch stays in place but does nothing while False."""
_REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
}
_lock = threading.Lock()


def install() -> None:
    """Patch litellm now if it is loaded, else as soon as something imports it."""
    module = sys.modules.get("litellm")
    if module is not None:
        patch(module)
        return
    with _lock:
        if not any(isinstance(f, _LitellmFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _LitellmFinder())


class _LitellmFinder:
    """Finds litellm like the other finders would, then patches it once it has run."""

    _busy = False

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "litellm" or self._busy:
            return None
        # under test, litellm's price table comes from the package, not a download at import
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self._busy = True
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        finally:
            self._busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


class _PatchingLoader:
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        with contextlib.suppress(Exception):  # never break the app's import over logging
            patch(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


def patch(litellm: Any) -> None:
    """Wrap `litellm.completion` and `litellm.acompletion` (once)."""
    with _lock:
        for name, wrap in (("completion", _wrap_sync), ("acompletion", _wrap_async)):
            original = getattr(litellm, name, None)
            if original is None or getattr(original, _PATCHED, False):
                continue
            wrapped = wrap(original)
            setattr(wrapped, _PATCHED, True)
            setattr(litellm, name, wrapped)


def _call_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    model = kwargs.get("model", args[0] if args else None)
    messages = kwargs.get("messages", args[1] if len(args) > 1 else None)
    return str(model or "unknown"), messages


def _begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The call's span (current only while litellm runs: a stream outlives the call) and its
    context to run the call in."""
    from pytest_genai.tracing import conventions as cv
    from pytest_genai.tracing.api import open_detached

    model, messages = _call_args(args, kwargs)
    _, live, ctx = open_detached(f"chat {model}", cv.SpanType.CHAT_MODEL, None)
    provider, _, _ = model.partition("/")
    attributes: dict[str, Any] = {cv.GEN_AI_REQUEST_MODEL: model}
    if provider and provider != model:
        attributes[cv.GEN_AI_SYSTEM] = provider
        attributes[cv.GEN_AI_PROVIDER_NAME] = provider
    for param, key in _REQUEST_PARAMS.items():
        value = kwargs.get(param)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[key] = value
    if kwargs.get("stream"):
        attributes["gen_ai.request.stream"] = True
    live.set_attributes(attributes)
    inputs: dict[str, Any] = {"messages": messages}
    if kwargs.get("tools"):
        inputs["tools"] = kwargs["tools"]
    live.set_inputs(inputs)
    return live, ctx


def _finish(live: Any, response: Any) -> None:
    try:
        if response is not None:
            _record_response(live, response)
    except Exception:  # logging must never break the app's call
        pass
    finally:
        live.span.end()


def _fail(live: Any, exc: BaseException) -> None:
    live.record_exception(exc)
    live.span.end()


def _record_response(live: Any, response: Any) -> None:
    from pytest_genai.tracing import conventions as cv

    attributes: dict[str, Any] = {}
    usage = getattr(response, "usage", None)
    tokens_in = getattr(usage, "prompt_tokens", None)
    tokens_out = getattr(usage, "completion_tokens", None)
    if isinstance(tokens_in, int):
        attributes[cv.GEN_AI_USAGE_INPUT_TOKENS] = tokens_in
    if isinstance(tokens_out, int):
        attributes[cv.GEN_AI_USAGE_OUTPUT_TOKENS] = tokens_out
    if isinstance(tokens_in, int) and isinstance(tokens_out, int):
        live.set_attribute(
            cv.MLFLOW_CHAT_TOKEN_USAGE,
            {
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        )
    choices = getattr(response, "choices", None) or []
    reasons = [str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)]
    if reasons:
        attributes[cv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    for attr, key in (("model", cv.GEN_AI_RESPONSE_MODEL), ("id", cv.GEN_AI_RESPONSE_ID)):
        value = getattr(response, attr, None)
        if isinstance(value, str) and value:
            attributes[key] = value
    cost = _cost(response)
    if cost is not None:
        attributes[cv.COST] = cost
    live.set_attributes(attributes)
    live.set_outputs(_reply(choices))


def _reply(choices: list[Any]) -> Any:
    """The reply as chat messages ({role, content, tool_calls})."""
    messages = []
    for choice in choices:
        message = getattr(choice, "message", None)
        if message is None:
            continue
        entry: dict[str, Any] = {
            "role": getattr(message, "role", "assistant"),
            "content": getattr(message, "content", None),
        }
        tool_calls = getattr(message, "tool_calls", None)
        if tool_calls:
            entry["tool_calls"] = [
                {"name": c.function.name, "arguments": c.function.arguments} for c in tool_calls
            ]
        messages.append(entry)
    return {"choices": messages}


def _cost(response: Any) -> float | None:
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if cost is None:
        try:
            import litellm

            cost = litellm.completion_cost(completion_response=response)
        except Exception:
            return None
    return float(cost) if isinstance(cost, (int, float)) and cost >= 0 else None


def _wrap_sync(original: Any) -> Any:
    @functools.wraps(original)
    def completion(*args: Any, **kwargs: Any) -> Any:
        if not enabled or SUPPRESSED.get():
            return original(*args, **kwargs)
        from opentelemetry import context as context_api

        try:
            live, ctx = _begin(args, kwargs)
        except Exception:  # logging must never break the app's call
            return original(*args, **kwargs)
        token = context_api.attach(ctx)
        try:
            response = original(*args, **kwargs)
        except BaseException as exc:
            _fail(live, exc)
            raise
        finally:
            context_api.detach(token)
        if kwargs.get("stream"):
            return _traced_stream(response, live, _call_args(args, kwargs)[1])
        _finish(live, response)
        return response

    return completion


def _wrap_async(original: Any) -> Any:
    @functools.wraps(original)
    async def acompletion(*args: Any, **kwargs: Any) -> Any:
        if not enabled or SUPPRESSED.get():
            return await original(*args, **kwargs)
        from opentelemetry import context as context_api

        try:
            live, ctx = _begin(args, kwargs)
        except Exception:
            return await original(*args, **kwargs)
        token = context_api.attach(ctx)
        try:
            response = await original(*args, **kwargs)
        except BaseException as exc:
            _fail(live, exc)
            raise
        finally:
            context_api.detach(token)
        if kwargs.get("stream"):
            return _traced_stream(response, live, _call_args(args, kwargs)[1])
        _finish(live, response)
        return response

    return acompletion


class _StreamState:
    """What a traced stream has read so far; the span ends once, with the reply rebuilt."""

    def __init__(self, live: Any, messages: Any) -> None:
        self.live = live
        self.messages = messages
        self.chunks: list[Any] = []
        self.done = False

    def end(self) -> None:
        if self.done:
            return
        self.done = True
        response = None
        try:
            import litellm

            response = litellm.stream_chunk_builder(self.chunks, messages=self.messages)
        except Exception:
            pass
        with contextlib.suppress(Exception):
            self.live.set_attribute("gen_ai.response.chunks", len(self.chunks))
        _finish(self.live, response)

    def error(self, exc: BaseException) -> None:
        if not self.done:
            self.done = True
            _fail(self.live, exc)


_STATE = "_pytest_genai_stream"
_TRACED_CLASSES: dict[type, type] = {}


def _traced_stream(stream: Any, live: Any, messages: Any) -> Any:
    """The stream litellm returned, still the same object (same class for `isinstance`, same
    methods), now of a subclass that ends the span when the stream ends, closes or is dropped."""
    state = _StreamState(live, messages)
    try:
        cls = type(stream)
        traced = _TRACED_CLASSES.get(cls)
        if traced is None:
            traced = _TRACED_CLASSES.setdefault(cls, _traced_class(cls))
        setattr(stream, _STATE, state)
        stream.__class__ = traced
    except Exception:  # not a stream we can follow: the call's span ends now
        state.end()
    return stream


def _state(stream: Any) -> _StreamState:
    return stream.__dict__[_STATE]


def _traced_class(cls: type) -> type:
    base: dict[str, Any] = {n: getattr(cls, n) for n in dir(cls) if n in _WRAPPED}
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}

    if "__next__" in base:

        def __next__(self: Any) -> Any:
            try:
                chunk = base["__next__"](self)
            except StopIteration:
                _state(self).end()
                raise
            except BaseException as exc:
                _state(self).error(exc)
                raise
            _state(self).chunks.append(chunk)
            return chunk

        namespace["__next__"] = __next__

    if "__anext__" in base:

        async def __anext__(self: Any) -> Any:
            try:
                chunk = await base["__anext__"](self)
            except StopAsyncIteration:
                _state(self).end()
                raise
            except BaseException as exc:
                _state(self).error(exc)
                raise
            _state(self).chunks.append(chunk)
            return chunk

        namespace["__anext__"] = __anext__

    for name in ("close", "__exit__"):
        if name in base:
            namespace[name] = _ending(base[name])
    for name in ("aclose", "__aexit__"):
        if name in base:
            namespace[name] = _ending_async(base[name])

    def __del__(self: Any) -> None:
        # a stream dropped unread still ends its span (with what was read)
        with contextlib.suppress(Exception):
            _state(self).end()
        if "__del__" in base:
            base["__del__"](self)

    namespace["__del__"] = __del__
    return type(cls.__name__, (cls,), namespace)


_WRAPPED = frozenset(
    {"__next__", "__anext__", "close", "__exit__", "aclose", "__aexit__", "__del__"}
)


def _ending(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            _state(self).end()

    return wrapper


def _ending_async(method: Any) -> Any:
    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        finally:
            _state(self).end()

    return wrapper
