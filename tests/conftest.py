from __future__ import annotations

import pytest

XDIST_MODES = {"no-xdist": [], "xdist-2": ["-n", "2"]}


@pytest.fixture(params=list(XDIST_MODES), ids=list(XDIST_MODES))
def xdist_args(request: pytest.FixtureRequest) -> list[str]:
    """Run a pytester session without xdist and with two workers."""
    return list(XDIST_MODES[request.param])
