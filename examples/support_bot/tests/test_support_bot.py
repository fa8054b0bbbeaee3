"""Quality tests for the support bot over the evaluation dataset `evals/support.jsonl`.

Each test runs once per case of the dataset. It calls the app with the case's inputs and returns
what the app said; the scorers on the marker score that against the case's expectations.
"""

from __future__ import annotations

import pytest
from support_bot import answer, route

from pytest_genai import Case, Feedback, scorer, scorers

# Relative to this file's folder first, then to the rootdir (the folder of pytest.ini).
DATASET = "evals/support.jsonl"


@scorer(threshold=1.0)
def states_expected_facts(outputs: str, expectations: dict) -> Feedback:
    """The share of the case's expected facts the reply states, word for word."""
    facts = expectations["expected_facts"]
    missing = [fact for fact in facts if fact.lower() not in outputs.lower()]
    return Feedback(
        value=1 - len(missing) / len(facts),
        rationale=f"missing {missing}" if missing else "states every expected fact",
    )


@scorer
def no_apology(outputs: str) -> bool:
    """Replies are direct: no 'sorry', no 'unfortunately'."""
    return not any(word in outputs.lower() for word in ("sorry", "unfortunately"))


@scorer
def routed_to_expected_team(outputs: str, expectations: dict) -> bool:
    return outputs == expectations["team"]


@pytest.mark.genai_eval(
    dataset=DATASET,
    scorers=[
        states_expected_facts,
        no_apology,
        scorers.contains("help.example.com/", name="links_help_page"),
        scorers.length(max=40, unit="words"),
    ],
)
def test_reply(case: Case) -> str:
    return answer(case.inputs["question"])


@pytest.mark.genai_eval(dataset=DATASET, scorers=[routed_to_expected_team])
def test_routing(case: Case) -> str:
    return route(case.inputs["question"])
