"""The developers' guide in code: no function of cyclomatic-complexity grade D or worse (radon cc)."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

ROOT = Path(__file__).resolve().parent.parent / "newsletter"


def test_no_function_is_grade_d_or_worse():
    complex_ones = [
        f"{path.relative_to(ROOT)}:{block.lineno} {block.name} ({cc_rank(block.complexity)})"
        for path in ROOT.rglob("*.py")
        for block in cc_visit(path.read_text(encoding="utf-8"))
        if cc_rank(block.complexity) >= "D"
    ]
    assert complex_ones == []
