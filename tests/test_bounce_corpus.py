"""Real reports from many mail systems (flufl.bounce's public corpus, labelled by meaning) are read as they mean."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _evaluate():
    spec = importlib.util.spec_from_file_location("bounce_corpus", ROOT / "bench" / "bounce_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.evaluate(ROOT / "tests" / "fixtures" / "bounce_corpus")


def test_hard_bounces_are_found_and_nothing_else_suppresses_at_once():
    marks, result = _evaluate()
    assert result["hard_recall"] >= marks.RECALL_MARK, result["disagreements"]
    assert result["wrong_suppression_share"] <= marks.WRONG_SUPPRESSION_MARK, result["disagreements"]


def test_delay_warnings_and_auto_replies_never_count_and_blocks_are_about_us():
    _marks, result = _evaluate()
    assert set(result["table"]["ignored"]) <= {"ignored", "unrecognised"}
    assert result["table"]["about_us"].get("hard", 0) == 0
    assert result["table"]["about_us"]["about_us"] >= 0.9 * sum(result["table"]["about_us"].values())
