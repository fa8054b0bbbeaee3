"""`Trace`: the spans one test produced, as a tree to query and assert on.

Built from the SDK's ended spans (or from plain records, for reports); imports no OTel module.
Judge spans (type EVALUATOR) and everything under them are the test's, not the app's: they are
in the tree but never in `llm_calls`, `usage` or `cost`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pytest_genai.tracing import conventions as cv
from pytest_genai.tracing.render import render_tree


class Span:
    """One captured span, read-only, linked to its parent and children in the trace."""

    __slots__ = (
        "attributes",
        "children",
        "end_ns",
        "events",
        "in_evaluator",
        "name",
        "parent",
        "parent_id",
        "span_id",
        "span_type",
        "start_ns",
        "status",
        "status_message",
        "trace_id",
    )

    def __init__(
        self,
        name: str,
        span_id: str,
        parent_id: str | None,
        trace_id: str,
        attributes: Mapping[str, Any],
        start_ns: int,
        end_ns: int,
        status: str = "UNSET",
        status_message: str | None = None,
        events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        self.name = name
        self.span_id = span_id
        self.parent_id = parent_id
        self.trace_id = trace_id
        self.attributes = dict(attributes)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.status = status
        self.status_message = status_message
        self.events = [(n, dict(a)) for n, a in events]
        self.parent: Span | None = None
        self.children: list[Span] = []
        self.span_type = cv.span_type_of(self.attributes)
        self.in_evaluator = False

    @classmethod
    def from_readable(cls, span: Any) -> Span:
        """From an OTel SDK `ReadableSpan`."""
        parent = span.parent
        return cls(
            name=span.name,
            span_id=format(span.context.span_id, "016x"),
            parent_id=format(parent.span_id, "016x") if parent is not None else None,
            trace_id=format(span.context.trace_id, "032x"),
            attributes=span.attributes or {},
            start_ns=span.start_time or 0,
            end_ns=span.end_time or span.start_time or 0,
            status=span.status.status_code.name,
            status_message=span.status.description,
            events=[(e.name, e.attributes or {}) for e in span.events],
        )

    def copy(self) -> Span:
        """The same span, not linked into any trace."""
        return Span(
            self.name,
            self.span_id,
            self.parent_id,
            self.trace_id,
            self.attributes,
            self.start_ns,
            self.end_ns,
            self.status,
            self.status_message,
            self.events,
        )

    # -- values ----------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """Made while a session, package, module or class fixture was set up."""
        return cv.FIXTURE_SCOPE in self.attributes

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return max(0, self.end_ns - self.start_ns) / 1e9

    @property
    def inputs(self) -> Any:
        return cv.inputs(self.attributes)

    @property
    def outputs(self) -> Any:
        return cv.outputs(self.attributes)

    @property
    def model(self) -> str | None:
        return cv.model(self.attributes)

    @property
    def input_tokens(self) -> int | None:
        return cv.input_tokens(self.attributes)

    @property
    def output_tokens(self) -> int | None:
        return cv.output_tokens(self.attributes)

    @property
    def cost(self) -> float | None:
        return cv.cost(self.attributes)

    @property
    def error(self) -> str | None:
        """The error the span recorded ("Type: message"), or None when it did not fail."""
        if self.status != "ERROR":
            return None
        for name, attributes in self.events:
            if name == "exception":
                kind = attributes.get("exception.type", "")
                message = attributes.get("exception.message", "")
                return f"{kind}: {message}" if kind else str(message)
        return self.status_message or self.attributes.get(cv.ERROR_TYPE) or "error"

    # -- relations -------------------------------------------------------------------------------

    def descendants(self) -> Iterator[Span]:
        for child in self.children:
            yield child
            yield from child.descendants()

    def ancestors(self) -> Iterator[Span]:
        parent = self.parent
        while parent is not None:
            yield parent
            parent = parent.parent

    def __repr__(self) -> str:
        return f"<Span {self.name!r} {self.span_type} {self.duration * 1000:.1f} ms>"


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """A tool the app called: its TOOL span's name, arguments, result and error."""

    name: str
    arguments: Any
    result: Any
    error: str | None
    span: Span = dataclasses.field(repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class Usage:
    """Tokens of the app's own LLM calls."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Trace:
    """Every span one test produced, with queries, views and assertions."""

    def __init__(self, spans: Iterable[Span], *, _fresh: bool = False) -> None:
        # copies: the spans given may belong to another trace, whose links must stay as they are
        own = list(spans) if _fresh else [s.copy() for s in spans]
        self.spans: list[Span] = sorted(own, key=lambda s: (s.start_ns, s.end_ns))
        by_id = {s.span_id: s for s in self.spans}
        self.roots: list[Span] = []
        for span in self.spans:
            parent = by_id.get(span.parent_id) if span.parent_id else None
            span.parent = parent
            if parent is None:
                self.roots.append(span)
            else:
                parent.children.append(span)
        for root in self.roots:
            _mark_evaluators(root, False)

    @classmethod
    def from_readable(cls, spans: Iterable[Any]) -> Trace:
        return cls((Span.from_readable(s) for s in spans), _fresh=True)

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[Span]:
        return iter(self.spans)

    def __repr__(self) -> str:
        return f"<Trace of {len(self.spans)} spans>"

    # -- queries ---------------------------------------------------------------------------------

    def find_all(
        self,
        name: str | re.Pattern[str] | None = None,
        *,
        name_contains: str | None = None,
        name_regex: str | None = None,
        span_type: str | Iterable[str] | None = None,
        attributes: Mapping[str, Any] | None = None,
        min_duration: float | None = None,
        max_duration: float | None = None,
        child_of: Span | str | None = None,
        descendant_of: Span | str | None = None,
        parent_of: Span | str | None = None,
        ancestor_of: Span | str | None = None,
        errors: bool | None = None,
    ) -> list[Span]:
        """Every span matching all the given conditions, in start order.

        `name` matches exactly (or a compiled regex searches it), `name_contains` a substring,
        `name_regex` a regex (searched). `span_type` is one type or several (MLflow's names:
        "LLM", "TOOL", ...). `attributes` must all be present with equal values. Durations are
        in seconds. Relations take a `Span` or a span name: `child_of="agent"` keeps spans whose
        parent is named "agent". `errors=True` keeps only failed spans.
        """
        types = {span_type} if isinstance(span_type, str) else set(span_type or ())
        types = {t.upper() for t in types}
        pattern = re.compile(name_regex) if name_regex is not None else None
        found = []
        for span in self.spans:
            if name is not None:
                if isinstance(name, re.Pattern):
                    if not name.search(span.name):
                        continue
                elif span.name != name:
                    continue
            if name_contains is not None and name_contains not in span.name:
                continue
            if pattern is not None and not pattern.search(span.name):
                continue
            if types and span.span_type not in types:
                continue
            if attributes and any(
                k not in span.attributes or not _equal(span.attributes[k], v)
                for k, v in attributes.items()
            ):
                continue
            if min_duration is not None and span.duration < min_duration:
                continue
            if max_duration is not None and span.duration > max_duration:
                continue
            if errors is not None and (span.error is not None) != errors:
                continue
            if child_of is not None and not (
                span.parent is not None and _is(span.parent, child_of)
            ):
                continue
            if descendant_of is not None and not any(
                _is(a, descendant_of) for a in span.ancestors()
            ):
                continue
            if parent_of is not None and not any(_is(c, parent_of) for c in span.children):
                continue
            if ancestor_of is not None and not any(_is(d, ancestor_of) for d in span.descendants()):
                continue
            found.append(span)
        return found

    def find(self, name: str | re.Pattern[str] | None = None, **conditions: Any) -> Span | None:
        """The first span `find_all` would return, or None."""
        found = self.find_all(name, **conditions)
        return found[0] if found else None

    # -- views -----------------------------------------------------------------------------------

    @property
    def app_spans(self) -> list[Span]:
        """The spans of the app's run in this test: all but judges and what they did, and what
        fixtures of a wider scope did while being set up (shared by many tests, and made in
        whichever test came first: counting them would make results depend on test order)."""
        return [s for s in self.spans if not s.in_evaluator and not s.shared]

    @property
    def llm_calls(self) -> list[Span]:
        """The app's LLM calls: its LLM and chat-model spans, judge calls excluded. A span of
        that type inside another (a traced wrapper around litellm, or a client library's
        instrumentation under litellm's) is part of the same call and not counted again."""
        return [
            s
            for s in self.app_spans
            if s.span_type in cv.LLM_TYPES
            and not any(a.span_type in cv.LLM_TYPES for a in s.ancestors())
        ]

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The app's tool calls, from its TOOL spans, in order."""
        calls = []
        for span in self.app_spans:
            if span.span_type != cv.SpanType.TOOL:
                continue
            calls.append(
                ToolCall(
                    name=cv.tool_name(span.attributes) or span.name,
                    arguments=_arguments(span.inputs),
                    result=span.outputs,
                    error=span.error,
                    span=span,
                )
            )
        return calls

    @property
    def retrieved_documents(self) -> list[dict[str, Any]]:
        """The documents the app's RETRIEVER spans returned, as
        `{"page_content": ..., "metadata": {"doc_uri": ...}}` records, in order."""
        documents = []
        for span in self.app_spans:
            if span.span_type == cv.SpanType.RETRIEVER:
                documents.extend(_documents(span))
        return documents

    @property
    def usage(self) -> Usage:
        """Input and output tokens of the app's LLM calls."""
        calls = self.llm_calls
        return Usage(
            input_tokens=sum(_of_call(s, "input_tokens") or 0 for s in calls),
            output_tokens=sum(_of_call(s, "output_tokens") or 0 for s in calls),
        )

    @property
    def cost(self) -> float:
        """USD spent by the app's LLM calls (those whose cost is known)."""
        return sum(_of_call(s, "cost") or 0.0 for s in self.llm_calls)

    @property
    def duration(self) -> float:
        """Seconds from the first span's start to the last span's end (0 without spans)."""
        spans = self.app_spans
        if not spans:
            return 0.0
        return (max(s.end_ns for s in spans) - min(s.start_ns for s in spans)) / 1e9

    @property
    def errors(self) -> list[Span]:
        """The app's failed spans (a judge that failed is a judge error, not the app's)."""
        return [s for s in self.app_spans if s.error is not None]

    def text(self, mark: Iterable[Span] = (), max_lines: int = 60) -> str:
        """The span tree as text (name, type, duration, tokens, cost, error per line)."""
        return render_tree(self.roots, marked={s.span_id for s in mark}, max_lines=max_lines)

    # -- assertions ------------------------------------------------------------------------------

    def assert_span(
        self,
        name: str | re.Pattern[str] | None = None,
        *,
        count: int | None = None,
        **conditions: Any,
    ) -> Span | None:
        """Assert that a span matches (exactly `count` of them, when given: `count=0` asserts
        there is none); returns the first match."""
        __tracebackhide__ = True
        found = self.find_all(name, **conditions)
        wanted = _describe_query(name, conditions)
        if count is not None and len(found) != count:
            raise self._fail(
                f"expected {count} span(s) matching {wanted}, found {len(found)}\n"
                + self._tree(found)
            )
        if count == 0:
            return None
        if not found:
            raise self._fail(f"no span matches {wanted}\n" + self._tree())
        return found[0]

    def assert_tool_called(self, name: str, /, **arguments: Any) -> ToolCall:
        """Assert the app called tool `name`, with at least these arguments; returns the call."""
        __tracebackhide__ = True
        calls = self.tool_calls
        named = [c for c in calls if c.name == name]
        for call in named:
            args = call.arguments if isinstance(call.arguments, dict) else {}
            if arguments_match(args, arguments):
                return call
        made = ", ".join(f"{c.name}({_short(c.arguments)})" for c in calls) or "none"
        what = f"{name}({_short(arguments)})" if arguments else name
        detail = "with these arguments " if named else ""
        raise self._fail(
            f"tool {what} was not called {detail}(tool calls made: {made})\n"
            + self._tree([c.span for c in named])
        )

    def assert_max_llm_calls(self, n: int) -> None:
        """Assert the app made at most `n` LLM calls (judge calls do not count)."""
        __tracebackhide__ = True
        calls = self.llm_calls
        if len(calls) > n:
            raise self._fail(
                f"expected at most {n} LLM call(s), the app made {len(calls)}\n" + self._tree(calls)
            )

    def assert_no_errors(self) -> None:
        """Assert that none of the app's spans recorded an error."""
        __tracebackhide__ = True
        failed = self.errors
        if failed:
            listed = "; ".join(f"{s.name}: {s.error}" for s in failed)
            raise self._fail(f"{len(failed)} span(s) failed: {listed}\n" + self._tree(failed))

    def _tree(self, marked: Iterable[Span] = ()) -> str:
        if not self.spans:
            return "the test's trace is empty (no span was captured)"
        return "the test's trace:\n" + self.text(mark=marked, max_lines=40)

    def _fail(self, message: str) -> AssertionError:
        """A failed assertion, its text (span errors and names included) with secrets masked."""
        from pytest_genai.secrets import redact

        return AssertionError(redact(message))


class LiveTrace(Trace):
    """The running test's trace: each query sees every span captured up to that moment."""

    def __init__(self, source: Callable[[], Sequence[Any]]) -> None:
        self._source = source
        self._seen = -1
        self._trace = Trace(())

    def _current(self) -> Trace:
        spans = self._source()
        if len(spans) != self._seen:
            self._seen = len(spans)
            self._trace = Trace.from_readable(spans)
        return self._trace

    @property  # type: ignore[override]
    def spans(self) -> list[Span]:
        return self._current().spans

    @property  # type: ignore[override]
    def roots(self) -> list[Span]:
        return self._current().roots

    def __repr__(self) -> str:
        return f"<Trace of {len(self.spans)} spans so far>"


def _of_call(call: Span, name: str) -> Any:
    """A call's tokens or cost: its own, else from the first LLM span inside it that has them
    (a wrapper span often carries none)."""
    value = getattr(call, name)
    if value is None:
        for inner in call.descendants():
            if inner.span_type in cv.LLM_TYPES and getattr(inner, name) is not None:
                return getattr(inner, name)
    return value


def _mark_evaluators(span: Span, inside: bool) -> None:
    inside = inside or span.span_type == cv.SpanType.EVALUATOR
    span.in_evaluator = inside
    for child in span.children:
        _mark_evaluators(child, inside)


def _is(span: Span, ref: Span | str) -> bool:
    """`ref` is this span (the same span id, whichever trace object it came from) or its name."""
    if isinstance(ref, Span):
        return span.span_id == ref.span_id and span.trace_id == ref.trace_id
    return span.name == ref


def arguments_match(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Every wanted argument was passed, with an equal value."""
    return all(k in actual and _equal(actual[k], v) for k, v in wanted.items())


def _equal(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    # OTel keeps sequences as tuples; JSON attributes compare by their decoded value
    if isinstance(actual, tuple) and isinstance(expected, list):
        return list(actual) == expected
    decoded = cv.decode(actual)
    return decoded is not actual and decoded == expected


def _arguments(inputs: Any) -> Any:
    """A tool's arguments: the bound inputs of a traced function, or a decoded JSON object."""
    if isinstance(inputs, dict) and set(inputs) == {"kwargs"}:
        return inputs["kwargs"]
    return cv.decode(inputs)


def _documents(span: Span) -> list[dict[str, Any]]:
    outputs = span.outputs
    if isinstance(outputs, dict) and isinstance(outputs.get("documents"), list):
        outputs = outputs["documents"]
    documents: list[dict[str, Any]] = []
    if isinstance(outputs, list):
        for item in outputs:
            if isinstance(item, dict) and "page_content" in item:
                documents.append(item)
            elif isinstance(item, str):
                documents.append({"page_content": item, "metadata": {}})
        return documents
    # OpenInference: retrieval.documents.N.document.content / .id
    index = 0
    while f"retrieval.documents.{index}.document.content" in span.attributes:
        prefix = f"retrieval.documents.{index}.document."
        uri = span.attributes.get(prefix + "id")
        metadata = {"doc_uri": uri} if uri is not None else {}
        content = span.attributes[prefix + "content"]
        documents.append({"page_content": content, "metadata": metadata})
        index += 1
    return documents


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, dict):
        text = ", ".join(f"{k}={v!r}" for k, v in value.items())
    else:
        text = "" if value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_query(name: Any, conditions: Mapping[str, Any]) -> str:
    parts = [f"name={name.pattern if isinstance(name, re.Pattern) else name!r}"] if name else []
    parts += [f"{k}={v.name if isinstance(v, Span) else v!r}" for k, v in conditions.items()]
    return ", ".join(parts) or "anything"
