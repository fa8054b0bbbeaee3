from __future__ import annotations

import pytest
from support_bot import FACTS, answer

from pytest_genai import scorer, scorers

QUESTIONS = [
    {
        "id": topic.replace(" ", "-"),
        "inputs": {"topic": topic},
        "expectations": {"expected_response": fact},
    }
    for topic, fact in FACTS.items()
]


@scorer(threshold=0.3)
def brevity(outputs):
    """1 for a one-word answer, falling as answers get longer (higher is better: the
    threshold says so to the baseline comparison)."""
    return round(1 / (1 + len(outputs.split()) / 5), 3)


@pytest.mark.genai_eval(
    dataset=QUESTIONS,
    scorers=[scorers.equals_expected(), brevity],
    thresholds={"equals_expected": 0.5},
)
def test_support_bot(case):
    return answer(case.inputs["topic"])
