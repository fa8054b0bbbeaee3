"""Reports: aggregation, the terminal summary, JUnit properties, the JSON report, step summary."""

from __future__ import annotations
