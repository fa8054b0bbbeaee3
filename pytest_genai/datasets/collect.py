"""`@pytest.mark.genai_eval(dataset=...)`: one test per case, and the test's return value scored.

Collection loads the dataset and parametrizes the `case` fixture with its cases, in file order,
ids from the cases (the same on every xdist worker). A dataset that can't be used becomes one
erroring test that names the file, line and fix; the rest of the session runs. At run time the
plugin calls the test itself, so that its return value (the app's output) can be scored by the
marker's scorers, and pytest has no return value to warn about.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_genai.current import PLUGIN_SCORED_KEY
from pytest_genai.datasets.formats import DatasetSource, load_dataset
from pytest_genai.datasets.model import Case
from pytest_genai.errors import DatasetError

if TYPE_CHECKING:
    from pytest_genai.recording import CaseRecorder
    from pytest_genai.results import Feedback
    from pytest_genai.scoring.base import Scorer
    from pytest_genai.session import GenaiSession

MARKER = "genai_eval"
OPTIONS = ("dataset", "scorers", "id_field", "thresholds", "sample", "repeats", "pass_rule")


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """The marker's options, checked."""

    dataset: DatasetSource
    scorers: tuple[Any, ...] = ()
    id_field: str = "id"
    gates: tuple[Any, ...] = ()
    """The `thresholds`, as `GateSpec`s: with any, cases do not fail on their scores."""
    sample: int | None = None
    repeats: int | None = None
    pass_rule: str = "all"

    @classmethod
    def from_marker(cls, marker: pytest.Mark) -> EvalOptions:
        kwargs = dict(marker.kwargs)
        if marker.args:
            if "dataset" in kwargs or len(marker.args) > 1:
                raise ValueError("genai_eval takes one positional argument, the dataset")
            kwargs["dataset"] = marker.args[0]
        if "dataset" not in kwargs:
            raise ValueError(
                "genai_eval needs dataset=: a file path, a list of cases or a callable"
            )
        unknown = [k for k in kwargs if k not in OPTIONS]
        if unknown:
            raise ValueError(
                f"genai_eval has no option {unknown[0]!r}; its options are {', '.join(OPTIONS)}"
            )
        scorers = kwargs.get("scorers", ())
        if not isinstance(scorers, (list, tuple)):
            scorers = (scorers,)
        gates: tuple[Any, ...] = ()
        if "thresholds" in kwargs:
            from pytest_genai.report.gates import parse_thresholds

            gates = tuple(parse_thresholds(kwargs["thresholds"]))
        sample = kwargs.get("sample")
        if sample is not None and (
            isinstance(sample, bool) or not isinstance(sample, int) or sample < 1
        ):
            raise ValueError(f"genai_eval sample= takes a positive whole number, got {sample!r}")
        repeats = kwargs.get("repeats")
        if repeats is not None and (
            isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1
        ):
            raise ValueError(f"genai_eval repeats= takes a positive whole number, got {repeats!r}")
        from pytest_genai.report.repeats import check_rule

        pass_rule = check_rule(str(kwargs.get("pass_rule", "all")))
        return cls(
            kwargs["dataset"],
            tuple(scorers),
            kwargs.get("id_field", "id"),
            gates,
            sample,
            repeats,
            pass_rule,
        )

    def runs(self, config: pytest.Config) -> int:
        """How many times each case runs (the marker's `repeats`, else `--genai-repeats`)."""
        if self.repeats is not None:
            return self.repeats
        from pytest_genai.session import get_session

        session = get_session(config)
        return (session.settings.repeats if session is not None else None) or 1


def options_of(item: pytest.Item) -> EvalOptions | None:
    """The options of the item's `genai_eval` marker, read once per marker (every case of a
    test shares it); None without a marker or with options that are wrong (reported on the
    test's `[dataset-error]` item at collection)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    cache = item.config.stash.setdefault(_OPTIONS_KEY, {})
    cached = cache.get(id(marker))
    if cached is None:
        try:
            options: EvalOptions | None = EvalOptions.from_marker(marker)
        except ValueError:
            options = None
        cached = cache[id(marker)] = (marker, options)  # the marker kept: its id stays its own
    return cached[1]


_OPTIONS_KEY = pytest.StashKey[dict[int, tuple[pytest.Mark, "EvalOptions | None"]]]()


@dataclasses.dataclass(frozen=True)
class BrokenDataset:
    """Stands in for the cases of a dataset that can't be used: its test errors with this."""

    message: str


def parametrize(metafunc: pytest.Metafunc, marker: pytest.Mark) -> None:
    """Parametrize the `case` fixture of a marked test with its dataset's cases."""
    params: list[Any]
    try:
        options = EvalOptions.from_marker(marker)
        if isinstance(options.dataset, (str, Path)):
            cases = _load_file(metafunc, options)
        else:
            cases = load_dataset(options.dataset, id_field=options.id_field)
        try:
            names = _check_scorers(metafunc.config, options.scorers)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"scorers=: {exc}") from None
        unknown = [g.scorer for g in options.gates if g.scorer not in names]
        if unknown:
            raise ValueError(
                f"thresholds= names {unknown[0]!r}, which is not one of the marker's scorers "
                f"({', '.join(names) or 'none'})"
            )
        if options.gates:
            _note_dataset(metafunc, cases)
        cases = _sampled(metafunc, options, cases)
        runs = options.runs(metafunc.config)
        if runs == 1:
            params = [pytest.param(c, id=c.id, marks=_tag_marks(metafunc.config, c)) for c in cases]
        else:  # each run its own test: `paris-r1`, `paris-r2`, ...
            params = [
                pytest.param(
                    c.model_copy(update={"repeat": k}),
                    id=f"{c.id}-r{k}",
                    marks=_tag_marks(metafunc.config, c),
                )
                for c in cases
                for k in range(1, runs + 1)
            ]
    except (DatasetError, ValueError, TypeError) as exc:
        params = [pytest.param(BrokenDataset(str(exc)), id="dataset-error")]
    if "case" not in metafunc.fixturenames:
        metafunc.fixturenames.append("case")
    metafunc.parametrize("case", params, indirect=True)


DATASET_DIGESTS = pytest.StashKey[dict[str, str]]()
"""Gated suite -> the digest of its whole dataset (only when pass bars are locked or checked)."""


def _note_dataset(metafunc: pytest.Metafunc, cases: list[Case]) -> None:
    from pytest_genai.session import get_session

    session = get_session(metafunc.config)
    if session is None or not session.passbars_wanted:
        return
    from pytest_genai.report.passbar import dataset_digest

    digests = metafunc.config.stash.setdefault(DATASET_DIGESTS, {})
    digests[metafunc.definition.nodeid] = dataset_digest(cases)


def passbar_of(item: pytest.Item) -> dict[str, Any] | None:
    """The pass bar of a gated case's suite (as plain data), when pass bars are locked or
    checked; worked out once per suite."""
    from pytest_genai.session import get_session

    session = get_session(item.config)
    if session is None or not session.passbars_wanted:
        return None
    from pytest_genai.outcome import suite_and_case

    suite = suite_and_case(item)[0]
    bars = item.config.stash.setdefault(PASSBARS, {})
    if suite not in bars:
        options = options_of(item)
        digest = item.config.stash.get(DATASET_DIGESTS, {}).get(suite)
        if options is None or not options.gates or digest is None:
            bars[suite] = None
        else:
            from pytest_genai.report.passbar import compute
            from pytest_genai.scoring.registry import resolve_scorers

            scorers = resolve_scorers(list(options.scorers), session.registered_scorers)
            bar = compute(digest, scorers, list(options.gates), session.settings.judge_model)
            bars[suite] = bar.model_dump()
    return bars[suite]


PASSBARS = pytest.StashKey[dict[str, Any]]()


def _sampled(metafunc: pytest.Metafunc, options: EvalOptions, cases: list[Case]) -> list[Case]:
    """A deterministic sample of the cases, in file order: the same for a seed, a test and a
    dataset on every worker (`--genai-sample` for all datasets, `sample=` for one)."""
    from pytest_genai.session import get_session

    session = get_session(metafunc.config)
    size = options.sample or (session.settings.sample if session is not None else None)
    if size is None or size >= len(cases):
        return cases
    import random

    seed = session.sample_seed if session is not None else 0
    chooser = random.Random(f"{seed}:{metafunc.definition.nodeid}")
    keep = sorted(chooser.sample(range(len(cases)), size))
    return [cases[i] for i in keep]


def _load_file(metafunc: pytest.Metafunc, options: EvalOptions) -> list[Case]:
    """A dataset path counts from the test file's folder, then from the rootdir."""
    path = Path(options.dataset)  # type: ignore[arg-type]
    if not path.is_absolute():
        beside = metafunc.definition.path.parent / path
        path = beside if beside.exists() else metafunc.config.rootpath / path
    try:
        shown = path.relative_to(metafunc.config.rootpath)
    except ValueError:
        shown = path
    try:
        return load_dataset(path, id_field=options.id_field)
    except DatasetError as exc:
        if exc.source == str(path):  # name the file as the user sees it
            raise DatasetError(
                str(shown), exc.problem, line=exc.line, case=exc.case, fix=exc.fix
            ) from None
        raise


def _check_scorers(config: pytest.Config, specs: Iterable[Any]) -> list[str]:
    """Unknown scorer names are found at collection (the test then errors), not case by case.
    Returns the scorers' names."""
    from pytest_genai.scoring.registry import resolve_scorers
    from pytest_genai.session import get_session

    specs = list(specs)
    if not specs:  # the test scores for itself (assert_scored, genai.score)
        return []
    session = get_session(config)
    registered = session.registered_scorers if session is not None else {}
    names = [s.name for s in resolve_scorers(specs, registered)]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ValueError(
            f"two scorers are both named {duplicate!r}; give one another name= so that their "
            "verdicts are reported apart"
        )
    return names


_NOT_NAME = re.compile(r"\W+")


def _tag_marks(config: pytest.Config, case: Case) -> list[pytest.MarkDecorator]:
    """A marker per tag, so that `-m billing` selects the cases tagged 'billing' (a mapping's
    keys become markers that carry the value: `{"topic": "billing"}` is `topic("billing")`)."""
    marks = []
    items = case.tags.items() if isinstance(case.tags, dict) else ((t, None) for t in case.tags)
    taken = _other_markers(config)
    for tag, value in items:
        name = _NOT_NAME.sub("_", str(tag)).strip("_")
        if not name or name[0].isdigit() or name in taken:
            # a tag never acts as another marker (a tag 'skip' must not skip the case)
            name = "tag_" + name
        _register(config, name)
        mark = getattr(pytest.mark, name)
        marks.append(mark(value) if value is not None else mark)
    return marks


_BUILTIN_MARKERS = frozenset(
    {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "genai_eval"}
)


def _other_markers(config: pytest.Config) -> frozenset[str]:
    """Names of markers pytest or another plugin declared (tags must not take them)."""
    mine = config.stash.get(_TAGS_KEY, set())
    declared = set(_BUILTIN_MARKERS)
    for line in config.getini("markers"):
        name = re.split(r"[(:\s]", line.strip(), maxsplit=1)[0]
        if name and name not in mine:
            declared.add(name)
    return frozenset(declared)


def _register(config: pytest.Config, name: str) -> None:
    """Declare a tag's marker, so that `--strict-markers` accepts it."""
    known = config.stash.setdefault(_TAGS_KEY, set())
    if name not in known:
        known.add(name)
        config.addinivalue_line("markers", f"{name}: dataset case tag (pytest-genai)")


_TAGS_KEY = pytest.StashKey[set[str]]()


def case_value(request: pytest.FixtureRequest) -> Case:
    """The `case` fixture's value: this test's case, or the reason there is none."""
    param = getattr(request, "param", None)
    if isinstance(param, BrokenDataset):
        pytest.fail(f"genai_eval: {param.message}", pytrace=False)
    if not isinstance(param, Case):
        raise pytest.UsageError(
            "the `case` fixture comes from @pytest.mark.genai_eval(dataset=...): mark the test "
            "with a dataset, or leave the fixture out"
        )
    return param


def run_case(item: pytest.Function) -> bool:
    """Call the test, then score what it returned with the marker's scorers."""
    __tracebackhide__ = True
    funcargs = item.funcargs
    result = item.obj(**{name: funcargs[name] for name in item._fixtureinfo.argnames})
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    case = funcargs.get("case")
    if not isinstance(case, Case):
        return True
    from pytest_genai.recording import recorder_for

    recorder = recorder_for(item)
    if recorder.scored_explicitly:
        return True
    options = options_of(item)
    if result is None and (options is None or not options.scorers):
        return True  # no scorers on the marker: the test scores for itself, if at all
    if result is None:
        pytest.fail(
            "a genai_eval test returns the app's output for its scorers (or calls "
            "genai.score(outputs)); this one returned None",
            pytrace=False,
        )
    item.stash[PLUGIN_SCORED_KEY] = True
    item.stash[OUTPUTS_KEY] = result
    score(item, case, result)
    return True


def shorten(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """A case that failed on the plugin's scoring of its return value: the report shows the
    verdicts (the traceback would only show the plugin's frames)."""
    if call.excinfo is None:
        return
    from pytest_genai.errors import ScorerError, ScoresFailed

    if call.excinfo.errisinstance((ScoresFailed, ScorerError)):
        case = item.funcargs.get("case") if hasattr(item, "funcargs") else None
        label = f"case {case.id!r}: " if isinstance(case, Case) else ""
        text = f"{label}{call.excinfo.typename}: {call.excinfo.value}"
        outputs = item.stash.get(OUTPUTS_KEY, None)
        if outputs is not None and "judged output:" not in text:
            from pytest_genai.results import truncate_text

            text += f"\n  output: {truncate_text(repr(outputs), 500)}"
        report.longrepr = text


def score(item: pytest.Item, case: Case, outputs: Any) -> Any:
    """Score `outputs` of `case` with the item's marker scorers; record the case."""
    __tracebackhide__ = True
    from pytest_genai.recording import recorder_for
    from pytest_genai.scoring.assertions import check, current_session
    from pytest_genai.scoring.registry import resolve_scorers

    options = options_of(item)
    session = current_session()
    recorder = recorder_for(item)
    recorder.scored_explicitly = True
    if options is None or not options.scorers:
        recorder.set_case(inputs=case.inputs, outputs=outputs, expectations=case.expectations)
        return []
    registered = session.registered_scorers if session is not None else {}
    scorers = resolve_scorers(list(options.scorers), registered)
    # the suite's gates, or the pass rule over a case's runs, decide; not each run on its own
    gated = bool(options.gates) or case.repeat > 0
    if gated and session is not None:
        from pytest_genai.results import AssessmentSourceType

        judges = [s for s in scorers if s.source_type is AssessmentSourceType.LLM_JUDGE]
        if judges:
            return _defer(session, recorder, case, outputs, scorers, judges)
    return check(
        scorers, session, outputs, case.inputs, case.expectations, None, fail_on_scores=not gated
    )


def _defer(
    session: GenaiSession,
    recorder: CaseRecorder,
    case: Case,
    outputs: Any,
    scorers: list[Scorer],
    judges: list[Scorer],
) -> list[Feedback]:
    """Score with the code scorers now and hand the judges to deferred judging."""
    __tracebackhide__ = True
    from pytest_genai.scoring.assertions import check, current_trace, run_all

    recorder.set_case(inputs=case.inputs, outputs=outputs, expectations=case.expectations)
    others = [s for s in scorers if s not in judges]
    trace = current_trace(session) if any(j.wants_trace for j in judges) else None
    session.deferred.submit(
        recorder,
        judges,
        lambda judges, **values: run_all(judges, session, **values),
        case.repeat,
        session.judge_client(),
        outputs=outputs,
        inputs=case.inputs,
        expectations=case.expectations,
        context=None,
        trace=trace,
    )
    if not others:
        return []
    return check(
        others, session, outputs, case.inputs, case.expectations, None, fail_on_scores=False
    )


OUTPUTS_KEY = pytest.StashKey[Any]()
"""What a `genai_eval` test returned, for its failure message."""
REPEATS_ATTR = "genai_repeats"
"""The teardown-report attribute of a run of a repeated case: its suite's pass rule."""


def pass_rule_of(item: pytest.Item) -> dict[str, Any] | None:
    """For a run of a repeated case: its pass rule, the case it is a run of (the test id with
    the run's suffix taken out, so other parameters stay apart) and the run's number."""
    case = getattr(item, "funcargs", {}).get("case")
    if not isinstance(case, Case) or case.repeat == 0:
        return None
    options = options_of(item)
    if options is None:
        return None
    rule = options.pass_rule
    callspec = getattr(item, "callspec", None)
    run_id = f"{case.id}-r{case.repeat}"
    full = callspec.id if callspec is not None else run_id
    return {"rule": rule, "case": full.replace(run_id, case.id, 1), "run": case.repeat}


GATES_ATTR = "genai_gates"
"""The teardown-report attribute of a gated case: its suite's gate specs, for the controller."""


def gates_of(item: pytest.Item) -> list[dict[str, Any]] | None:
    """The gate specs of a gated `genai_eval` test (as plain data), else None."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and isinstance(callspec.params.get("case"), BrokenDataset):
        return None  # its error fails the run already; there is nothing to measure
    options = options_of(item)
    if options is None or not options.gates:
        return None
    return [g.model_dump() for g in options.gates]


def annotate_teardown(item: pytest.Item, report: pytest.TestReport) -> None:
    """What the controller needs of a case to decide its suite: the gates, and for a run of a
    repeated case its pass rule and case (carried on the teardown report, as under xdist)."""
    gates = gates_of(item)
    if gates:
        setattr(report, GATES_ATTR, gates)
        bar = passbar_of(item)
        if bar is not None:
            from pytest_genai.report.passbar import PASSBAR_ATTR

            setattr(report, PASSBAR_ATTR, bar)
    rule = pass_rule_of(item)
    if rule is not None:
        setattr(report, REPEATS_ATTR, rule)
