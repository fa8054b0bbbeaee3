"""syrupy snapshots of rendered prompts (`prompt_snapshot`) and of app outputs
(`genai_snapshot`, compared by a chosen comparator).

Both are syrupy `SnapshotAssertion`s with single-file extensions, so `--snapshot-update`,
the unused-snapshot report, `--snapshot-warn-unused` and xdist work as they do for
syrupy's own fixture. This module is imported only by the two fixtures.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from pytest_genai.errors import JUDGE_ERROR_TYPES, JudgeError, ScorerError


def messages_text(messages: list[Any]) -> str:
    """Chat messages as a readable text: a `=== role ===` line before each message."""
    blocks = []
    for message in messages:
        if not isinstance(message, dict) or "content" not in message:
            raise TypeError(
                "a prompt snapshot holds text or a list of {'role', 'content'} messages, got "
                f"an item {message!r:.80}"
            )
        blocks.append(f"=== {message.get('role', '?')} ===\n{message['content']}")
    return "\n\n".join(blocks) + "\n"


class PromptSnapshotExtension(SingleFileSnapshotExtension):
    """One `.prompt.txt` file per prompt, version and test: the text sent to the model."""

    _write_mode = WriteMode.TEXT
    file_extension = "prompt.txt"

    def serialize(self, data: Any, **_: Any) -> str:
        if isinstance(data, str):
            return str.__str__(data)
        if isinstance(data, list):
            return messages_text(data)
        raise TypeError(
            f"prompt_snapshot compares a rendered prompt (text or chat messages), got "
            f"{type(data).__name__}; use genai_snapshot or syrupy's snapshot for other values"
        )


def _prompt_index(data: Any, name: Any) -> str | None:
    prompt = getattr(data, "prompt", None)
    if prompt is None:
        return None
    index = f"{prompt.name}-v{prompt.version}"
    return f"{index}-{name}" if name else index


class PromptSnapshotAssertion(SnapshotAssertion):
    """`assert prompt.format(**vars) == prompt_snapshot`: the snapshot is named after the
    prompt and version the text was rendered from, so each gets its own file; `name=` adds a
    suffix when one test renders a version more than once."""

    def _assert(self, data: Any) -> bool:
        index = _prompt_index(data, self._custom_index)
        if index is not None:
            # the same version rendered again in this test gets a file of its own
            uses = self.__dict__.setdefault("_uses", {})
            uses[index] = uses.get(index, 0) + 1
            self(name=index if uses[index] == 1 else f"{index}-{uses[index]}")
        return super()._assert(data)


# -- output snapshots --------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """A comparator's answer: whether the outputs match, a score if it has one, and why."""

    matched: bool
    rationale: str
    score: float | None = None


Comparator = Callable[[str, str], "Comparison | bool | tuple[bool, str]"]
COMPARATORS = "'exact', 'whitespace', 'similarity>=0.9', 'judge' or a function(old, new)"


def _whitespace(text: str) -> str:
    return " ".join(text.split())


def exact(old: str, new: str) -> Comparison:
    matched = old == new
    return Comparison(matched, "identical" if matched else "the texts differ")


def whitespace(old: str, new: str) -> Comparison:
    matched = _whitespace(old) == _whitespace(new)
    return Comparison(
        matched,
        "identical once whitespace is normalised"
        if matched
        else "the texts differ beyond whitespace",
    )


def similarity(threshold: float) -> Callable[[str, str], Comparison]:
    def compare(old: str, new: str) -> Comparison:
        from pytest_genai.scoring.builtins import edit_ratio

        ratio = edit_ratio(_whitespace(old), _whitespace(new))
        matched = ratio >= threshold
        sign = ">=" if matched else "<"
        return Comparison(
            matched, f"similarity {ratio:.3f} {sign} {threshold:g}", score=round(ratio, 6)
        )

    compare.__name__ = f"similarity>={threshold:g}"
    return compare


def judge_equivalence(old: str, new: str) -> Comparison:
    """Ask the configured judge whether `new` says what `old` said (the built-in
    `equivalence` judge, through the judge client). No verdict raises `JudgeError`."""
    from pytest_genai.judges.builtin import equivalence

    feedback = equivalence(name="snapshot_equivalence").run(
        outputs=new, expectations={"expected_response": old}
    )[0]
    if feedback.error is not None:
        cause = f"{feedback.error.error_type}: {feedback.error.message}"
        if feedback.error.error_type in JUDGE_ERROR_TYPES:
            raise JudgeError(f"genai_snapshot(compare='judge') got no verdict: {cause}")
        raise ScorerError(f"genai_snapshot(compare='judge') could not compare: {cause}")
    rationale = f"judge says {feedback.value}" + (
        f": {feedback.rationale}" if feedback.rationale else ""
    )
    return Comparison(bool(feedback.passed), rationale)


_SIMILARITY = re.compile(r"similarity\s*(?:>=\s*([0-9]*\.?[0-9]+))?")


def comparator(spec: str | Comparator) -> tuple[str, Callable[[str, str], Comparison]]:
    """`(name, function)` of a comparator spec; `ValueError` for one that isn't known."""
    if callable(spec):
        function = spec

        def custom(old: str, new: str) -> Comparison:
            answer = function(old, new)
            if isinstance(answer, Comparison):
                return answer
            if isinstance(answer, tuple) and len(answer) == 2:
                return Comparison(bool(answer[0]), str(answer[1]))
            if isinstance(answer, bool):
                return Comparison(answer, "the comparator said " + ("yes" if answer else "no"))
            raise TypeError(
                f"comparator {getattr(function, '__name__', function)!r} returned "
                f"{answer!r:.80}; return a bool, (bool, rationale) or a Comparison"
            )

        return getattr(spec, "__name__", "custom"), custom
    text = spec.strip().lower() if isinstance(spec, str) else ""
    if text == "exact":
        return "exact", exact
    if text == "whitespace":
        return "whitespace", whitespace
    if text in ("judge", "equivalent", "equivalence"):
        return "judge", judge_equivalence
    match = _SIMILARITY.fullmatch(text)
    if match is not None:
        threshold = float(match.group(1)) if match.group(1) else 0.9
        if not 0 <= threshold <= 1:
            raise ValueError(f"similarity threshold {threshold} is not between 0 and 1")
        return f"similarity>={threshold:g}", similarity(threshold)
    raise ValueError(f"unknown snapshot comparator {spec!r}: use {COMPARATORS}")


def output_text(data: Any) -> str:
    """An app output as snapshot text: a string as it is, anything else as indented JSON."""
    if isinstance(data, str):
        return str.__str__(data)
    from pytest_genai.results import json_safe

    return json.dumps(json_safe(data, 0), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class OutputSnapshotExtension(SingleFileSnapshotExtension):
    """One `.output.txt` file per snapshot; matched by the assertion's comparator."""

    _write_mode = WriteMode.TEXT
    file_extension = "output.txt"
    comparison: Comparison | None = None
    compared: tuple[str, str] | None = None
    comparator_name = "exact"

    def serialize(self, data: Any, **_: Any) -> str:
        return output_text(data)

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        if serialized_data == snapshot_data:
            return True
        if self.comparison is not None and self.compared == (snapshot_data, serialized_data):
            return self.comparison.matched
        return False

    def diff_lines(self, serialized_data: Any, snapshot_data: Any) -> Iterator[str]:
        comparison = self.comparison
        if comparison is not None and self.compared == (snapshot_data, serialized_data):
            yield f"comparator {self.comparator_name}: {comparison.rationale}"
        yield "snapshot (expected):"
        yield from ("  " + line for line in str(snapshot_data).splitlines() or [""])
        yield "received:"
        yield from ("  " + line for line in str(serialized_data).splitlines() or [""])
        yield "diff:"
        yield from (
            "  " + line.rstrip("\n")
            for line in difflib.unified_diff(
                str(snapshot_data).splitlines(),
                str(serialized_data).splitlines(),
                "snapshot",
                "received",
                lineterm="",
                n=2,
            )
        )


class OutputSnapshotAssertion(SnapshotAssertion):
    """`assert answer == genai_snapshot(compare="similarity>=0.9")`: the answer is compared
    with the stored one by the comparator (default exact); `--snapshot-update` rewrites it.
    The verdict is also recorded on the test as the `snapshot` score."""

    _compare: str | Comparator = "exact"

    def __call__(self, *, compare: str | Comparator | None = None, **options: Any) -> Any:
        if compare is not None:
            comparator(compare)  # a bad spec fails here, before any snapshot is read
            previous = self._compare
            self._compare = compare
            self._post_assert_actions.append(lambda: setattr(self, "_compare", previous))
        return super().__call__(**options)

    def _assert(self, data: Any) -> bool:
        __tracebackhide__ = True
        name, compare = comparator(self._compare)
        extension = self.extension
        assert isinstance(extension, OutputSnapshotExtension)
        extension.comparison = extension.compared = None
        extension.comparator_name = name
        stored, tainted = self._recall_data(index=self.index)
        if isinstance(stored, str) and not tainted:
            new = output_text(data)
            if new == stored:
                score = 1.0 if name.startswith("similarity") else None
                comparison = Comparison(True, "identical", score=score)
            else:
                comparison = compare(stored, new)
            extension.comparison, extension.compared = comparison, (stored, new)
            if not self.update_snapshots:
                custom = self._custom_index
                _record(f"snapshot[{custom}]" if custom else "snapshot", name, comparison)
        return super()._assert(data)


def _record(score_name: str, name: str, comparison: Comparison) -> None:
    from pytest_genai.recording import current_recorder
    from pytest_genai.results import AssessmentSource, AssessmentSourceType, Feedback

    recorder = current_recorder()
    if recorder is None:
        return
    value: bool | float = comparison.score if comparison.score is not None else comparison.matched
    source = AssessmentSourceType.LLM_JUDGE if name == "judge" else AssessmentSourceType.CODE
    recorder.add(
        [
            Feedback(
                name=score_name,
                value=value,
                passed=comparison.matched,
                rationale=comparison.rationale,
                pass_rule=f"matches the stored output ({name})",
                source=AssessmentSource(source_type=source, source_id=f"snapshot:{name}"),
            )
        ]
    )


def make(snapshot: SnapshotAssertion, kind: type[SnapshotAssertion]) -> SnapshotAssertion:
    """A `kind` assertion in the place of syrupy's `snapshot` fixture value."""
    extension = (
        PromptSnapshotExtension if kind is PromptSnapshotAssertion else OutputSnapshotExtension
    )
    return kind(
        session=snapshot.session,
        extension_class=extension,
        test_location=snapshot.test_location,
        update_snapshots=snapshot.update_snapshots,
        update_new_snapshots_only=snapshot.update_new_snapshots_only,
    )
