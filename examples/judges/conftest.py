"""Skip the judged tests, with the reason, when no judge model can be reached.

Without an API key (or with a local server that is down) every test here would be a judge
error; skipping says why instead, and the rest of a larger suite runs as usual.
"""

from __future__ import annotations

import pytest

from pytest_genai import judges


@pytest.fixture(scope="session")
def judge_unavailable() -> str | None:
    """Asked once per run (once per xdist worker): why no judge can be asked, or None."""
    return judges.unavailable_reason()


@pytest.fixture(autouse=True)
def _require_judge(judge_unavailable: str | None) -> None:
    if judge_unavailable:
        pytest.skip(f"no LLM judge: {judge_unavailable}")
