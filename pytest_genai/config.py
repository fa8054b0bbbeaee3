"""Settings: one typed object, built once per run.

Every option exists in up to three places, looked up in this order: the command line
(`--genai-*`), the environment (`GENAI_*`) and the ini file (`genai_*`), then its default. The
table `OPTIONS` is the single description of them all: the plugin registers the command-line
flags and ini keys from it and `Settings.from_pytest_config` reads them back.

This module is imported when the plugin loads, so it stays light (no pydantic).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest.config.argparsing import Parser

DEFAULT_JUDGE_MODEL = "openai/gpt-4o-mini"


class OptionError(ValueError):
    """A value that an option does not accept; the message says what it accepts."""


def _parse_path(text: str) -> Path:
    if not text.strip():
        raise OptionError("expected a file path, got an empty value")
    return Path(text)


def _number(
    kind: Callable[[str], float], expected: str, accept: Callable[[float], bool]
) -> Callable[[str], Any]:
    """A parser of numbers of `kind` that `accept` allows; `expected` says which, in errors."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise OptionError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise OptionError(f"expected {expected}, got {text!r}")
        return value

    return parse


_parse_positive_int = _number(int, "a positive whole number", lambda v: v > 0)
_parse_non_negative_int = _number(int, "a whole number >= 0", lambda v: v >= 0)
_parse_seconds = _number(float, "a number of seconds > 0", lambda v: 0 < v < float("inf"))
_parse_temperature = _number(float, "a number between 0 and 2", lambda v: 0 <= v <= 2)


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise OptionError(f"expected true or false, got {text!r}")


def _parse_traces(text: str) -> Path | str:
    """`otlp`, or the path of a `.jsonl` file."""
    if text.strip().lower() == "otlp":
        return "otlp"
    path = _parse_path(text)
    if path.suffix != ".jsonl":
        raise OptionError(f"expected 'otlp' or a path ending in .jsonl, got {text!r}")
    return path


def _parse_cache_mode(text: str) -> str:
    mode = text.strip().lower()
    if mode not in ("auto", "record", "replay", "off"):
        raise OptionError(f"expected auto, record, replay or off, got {text!r}")
    return mode


_parse_dollars = _number(float, "an amount in USD >= 0", lambda v: 0 <= v < float("inf"))


def _parse_url(text: str) -> str:
    url = text.strip()
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise OptionError(
            f"expected an http(s) URL such as 'http://localhost:11434/v1', got {text!r}"
        )
    return url.rstrip("/")


def parse_model(text: str) -> str:
    """A litellm model string (`provider/model`); MLflow's `provider:/model` is accepted too."""
    model = text.strip()
    if ":/" in model:
        provider, _, name = model.partition(":/")
        model = f"{provider}/{name}"
    if not model or model.startswith("/") or model.endswith("/") or any(c.isspace() for c in model):
        raise OptionError(
            f"expected a litellm model string such as 'openai/gpt-4o-mini', got {text!r}"
        )
    return model


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting: its field on `Settings`, where it is read from, and how it is parsed."""

    field: str
    help: str
    parse: Callable[[str], Any]
    metavar: str
    switch: bool = False
    """A command-line switch that takes no value (`--genai-lock-prompts`); env and ini take
    true/false."""

    @property
    def flag(self) -> str:
        return "--genai-" + self.field.replace("_", "-")

    @property
    def ini(self) -> str:
        return "genai_" + self.field

    @property
    def env(self) -> str:
        return "GENAI_" + self.field.upper()

    @property
    def dest(self) -> str:
        return "genai_" + self.field


OPTIONS: tuple[Option, ...] = (
    Option(
        "report",
        "write a JSON report of every scored case and the aggregates to PATH",
        _parse_path,
        "PATH",
    ),
    Option(
        "html",
        "write a self-contained HTML report (overview, gates, baseline, every case with its "
        "verdicts and trace) to PATH",
        _parse_path,
        "PATH",
    ),
    Option(
        "baseline",
        "compare this run with an earlier --genai-report JSON file, per suite and scorer",
        _parse_path,
        "PATH",
    ),
    Option(
        "fail_on_regression",
        "fail the run when a suite's scorer dropped significantly against --genai-baseline",
        _parse_bool,
        "BOOL",
        switch=True,
    ),
    Option(
        "judge_model",
        f"litellm model string of the LLM judge (default: {DEFAULT_JUDGE_MODEL})",
        parse_model,
        "MODEL",
    ),
    Option(
        "judge_base_url",
        "base URL of an OpenAI-compatible server for the judge (vLLM, Ollama, llama.cpp, a proxy)",
        _parse_url,
        "URL",
    ),
    Option(
        "judge_temperature",
        "sampling temperature of the judge (default: 0)",
        _parse_temperature,
        "T",
    ),
    Option(
        "judge_timeout",
        "seconds to wait for one judge request before retrying it (default: 60)",
        _parse_seconds,
        "SECONDS",
    ),
    Option(
        "judge_retries",
        "retries of a judge request after a rate limit, server error, timeout or connection "
        "error (default: 3)",
        _parse_non_negative_int,
        "N",
    ),
    Option(
        "judge_concurrency",
        "judge requests of one assertion made at the same time (default: 4)",
        _parse_positive_int,
        "N",
    ),
    Option(
        "max_value_chars",
        "truncate recorded inputs, outputs, expectations and rationales to N characters "
        "(default: 4000)",
        _parse_positive_int,
        "N",
    ),
    Option(
        "repeats",
        "run each case of every genai_eval dataset N times (a marker's repeats= wins)",
        _parse_positive_int,
        "N",
    ),
    Option(
        "sample",
        "run a deterministic sample of N cases of each genai_eval dataset",
        _parse_positive_int,
        "N",
    ),
    Option(
        "sample_seed",
        "seed of --genai-sample (default: a new one each run, shown in the header)",
        _parse_non_negative_int,
        "SEED",
    ),
    Option(
        "tracing",
        "capture the OpenTelemetry spans each test emits (default: true)",
        _parse_bool,
        "BOOL",
    ),
    Option(
        "capture_content",
        "record message content and span inputs/outputs in captured spans (default: true)",
        _parse_bool,
        "BOOL",
    ),
    Option(
        "traces",
        "export each test's spans: 'otlp' (OTLP/HTTP, configured by OTEL_EXPORTER_OTLP_*) or "
        "PATH.jsonl (one OTLP-JSON record per test)",
        _parse_traces,
        "otlp|PATH.jsonl",
    ),
    Option(
        "cache",
        "the judge cache: auto (read, then write), record (always ask, overwrite), replay (never "
        "ask a model; a miss is a judge error) or off (default: auto)",
        _parse_cache_mode,
        "MODE",
    ),
    Option(
        "cache_dir",
        "folder of the judge cache file judge.sqlite (default: .genai_cache/ under the rootdir)",
        _parse_path,
        "DIR",
    ),
    Option(
        "max_cost",
        "stop asking judges once the run's judge calls cost this many USD (all xdist workers)",
        _parse_dollars,
        "USD",
    ),
    Option(
        "max_judge_calls",
        "make at most N judge calls in the run (all xdist workers); cached verdicts are free",
        _parse_non_negative_int,
        "N",
    ),
    Option(
        "lock",
        "write genai.lock: the pass bar of every gated suite (dataset digest, judges, "
        "thresholds), which later runs must keep",
        _parse_bool,
        "BOOL",
        switch=True,
    ),
    Option(
        "prompts_dir",
        "the versioned prompt directory load_prompt reads (default: prompts/ under the rootdir)",
        _parse_path,
        "DIR",
    ),
    Option(
        "lock_prompts",
        "record the digest of every prompt version not yet in prompts.lock (a locked version "
        "must not change afterwards)",
        _parse_bool,
        "BOOL",
        switch=True,
    ),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved configuration of pytest-genai for one run."""

    report: Path | None = None
    html: Path | None = None
    baseline: Path | None = None
    fail_on_regression: bool = False
    judge_model: str = DEFAULT_JUDGE_MODEL
    judge_base_url: str | None = None
    judge_temperature: float = 0.0
    judge_timeout: float = 60.0
    judge_retries: int = 3
    judge_concurrency: int = 4
    max_value_chars: int = 4000
    repeats: int | None = None
    sample: int | None = None
    sample_seed: int | None = None
    tracing: bool = True
    capture_content: bool = True
    traces: Path | str | None = None
    prompts_dir: Path | None = None
    lock_prompts: bool = False
    cache: str = "auto"
    cache_dir: Path | None = None
    max_cost: float | None = None
    max_judge_calls: int | None = None
    lock: bool = False

    @classmethod
    def resolve(
        cls,
        cli: Mapping[str, str | None],
        env: Mapping[str, str],
        ini: Mapping[str, str | None],
        base_dir: Path | None = None,
        ini_dir: Path | None = None,
    ) -> Settings:
        """Build settings from raw strings; `cli` and `ini` are keyed by `Option.field`.

        Empty strings count as unset. Relative paths count from `base_dir` (where pytest was
        invoked) when given on the command line or in the environment, and from `ini_dir` (the
        ini file's folder) when given in the ini file.
        Raises `pytest.UsageError` naming the option, where its value came from and the fix.
        """
        values: dict[str, Any] = {}
        for option in OPTIONS:
            for source, raw, folder in (
                (f"{option.flag} on the command line", cli.get(option.field), base_dir),
                (f"environment variable {option.env}", env.get(option.env), base_dir),
                (f"ini option {option.ini}", ini.get(option.field), ini_dir),
            ):
                if raw is None or raw == "":
                    continue
                try:
                    value = option.parse(raw)
                except OptionError as exc:
                    raise pytest.UsageError(
                        f"pytest-genai: bad value for {source}: {exc}. "
                        f"Fix it, or see `pytest --help` (group 'genai')."
                    ) from None
                if isinstance(value, Path) and folder is not None and not value.is_absolute():
                    value = folder / value
                values[option.field] = value
                break
        return cls(**values)

    @classmethod
    def from_pytest_config(cls, config: pytest.Config, early: bool = False) -> Settings:
        """Settings of a pytest run; `early`, before its command line is fully parsed (in
        `pytest_load_initial_conftests`), from the arguments known by then."""
        if early:
            known = config.known_args_namespace
            cli = {option.field: getattr(known, option.dest, None) for option in OPTIONS}
        else:
            cli = {option.field: config.getoption(option.dest, None) for option in OPTIONS}
        ini = {option.field: config.getini(option.ini) or None for option in OPTIONS}
        ini_dir = config.inipath.parent if config.inipath is not None else config.rootpath
        return cls.resolve(cli, os.environ, ini, config.invocation_params.dir, ini_dir)


def add_options(parser: Parser) -> None:
    """Register every option as a `--genai-*` flag in the 'genai' group and a `genai_*` ini key."""
    group = parser.getgroup("genai", "pytest-genai: LLM evaluation")
    for option in OPTIONS:
        where = f"Env: {option.env}; ini: {option.ini}."
        if option.switch:
            group.addoption(
                option.flag,
                dest=option.dest,
                action="store_const",
                const="true",
                default=None,
                help=f"{option.help}. {where}",
            )
        else:
            group.addoption(
                option.flag,
                dest=option.dest,
                default=None,
                metavar=option.metavar,
                help=f"{option.help}. {where}",
            )
        parser.addini(option.ini, help=option.help, default="")
