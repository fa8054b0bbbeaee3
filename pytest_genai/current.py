"""The test item running in this context, so `assert_scored` can record on it without a fixture.

Set by the plugin from each test's setup until its teardown report. A context variable, not a
global: asyncio tasks the test starts inherit it; threads don't (use the `genai` fixture there).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    pass

CURRENT_ITEM: ContextVar[pytest.Item | None] = ContextVar("pytest_genai_current_item", default=None)

RECORDER_KEY = pytest.StashKey["CaseRecorder"]()
"""Where an item keeps its recorder (made on first use by `recording.recorder_for`)."""
