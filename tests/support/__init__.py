"""Test support code: fakes and helpers shared by the test suite (not part of the plugin)."""

from __future__ import annotations
