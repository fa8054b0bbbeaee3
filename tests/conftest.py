from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# pytester's in-process runs drop modules first imported during a run; import the whole package
# here so every run (and this session) shares one copy of each class.
import pytest_genai.datasets.collect
import pytest_genai.datasets.evaluate
import pytest_genai.datasets.formats
import pytest_genai.prompts.lineage
import pytest_genai.prompts.lock
import pytest_genai.prompts.snapshots
import pytest_genai.prompts.store
import pytest_genai.report.baseline
import pytest_genai.report.baseline_view
import pytest_genai.report.gate_reports
import pytest_genai.report.gates
import pytest_genai.report.github
import pytest_genai.report.html
import pytest_genai.report.json_report
import pytest_genai.report.junit
import pytest_genai.report.merge
import pytest_genai.report.repeats
import pytest_genai.scorers
import pytest_genai.scoring.assertions
import pytest_genai.scoring.trace_scorers
import pytest_genai.tracing.api
import pytest_genai.tracing.autolog
import pytest_genai.tracing.capture  # one collector per process, attached once
import pytest_genai.tracing.export
import pytest_genai.tracing.model
import pytest_genai.tracing.records
import pytest_genai.tracing.run
import pytest_genai.tracing.values  # noqa: F401
from tests.support.llm_server import LLMServer

# The judge cache would answer the second of two identical pytester runs from the first one's
# verdicts; tests about judging count the requests each run makes. The cache's own tests turn
# it back on (`--genai-cache=...`, or without this variable for the default).
os.environ["GENAI_CACHE"] = "off"

XDIST_MODES = {"no-xdist": [], "xdist-2": ["-n", "2"]}


@pytest.fixture(params=list(XDIST_MODES), ids=list(XDIST_MODES))
def xdist_args(request: pytest.FixtureRequest) -> list[str]:
    """Run a pytester session without xdist and with two workers."""
    return list(XDIST_MODES[request.param])


@pytest.fixture(scope="session")
def _llm_server_session() -> Iterator[LLMServer]:
    """One loopback OpenAI-compatible server per test process (per xdist worker)."""
    with LLMServer() as server:
        yield server


@pytest.fixture
def llm_server(_llm_server_session: LLMServer) -> LLMServer:
    """The shared loopback LLM server, reset: empty script and request log, default reply."""
    _llm_server_session.reset()
    return _llm_server_session


@pytest.fixture(scope="session")
def judge_client_warmed(_llm_server_session: LLMServer) -> None:
    """litellm imported, and a judge question asked, before any in-process pytester run:
    modules first imported inside such a run are dropped after it, and the next import makes
    second copies (httpx then no longer recognises httpcore's exceptions)."""
    from pytest_genai.config import Settings
    from pytest_genai.judges.base import _response_model
    from pytest_genai.judges.client import JudgeClient, import_litellm

    import_litellm()
    settings = Settings(judge_model="openai/warm-up", judge_base_url=_llm_server_session.base_url)
    JudgeClient(settings).ask(
        [{"role": "user", "content": "warm up"}], response_model=_response_model("yes_no")
    )
    _llm_server_session.reset()
