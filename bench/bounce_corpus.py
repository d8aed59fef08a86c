"""How bounce reports are read, by meaning, over a labelled corpus of real reports.

    .venv/bin/python bench/bounce_corpus.py [--corpus tests/fixtures/bounce_corpus] [--verbose]

Each report in the corpus folder is read by `newsletter.bounces.parsing.parse` (what every intake uses) and
its kind compared with the label in `labels.json` (what the report means for the reader: `hard`, `soft`,
`about_us`, `complaint`, `unsubscribe`, `ignored`). Prints, by class, how many were read as what, and the two
figures issue 20 sets: hard-bounce recall (hard reports read as hard; ≥ 0.95) and immediate suppressions of
reports that are neither hard bounces nor complaints (≤ 3 %). `--verbose` lists every disagreement.
Exits 1 when either figure misses its mark.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.bounces.parsing import parse  # noqa: E402

SUPPRESSING = {"hard", "complaint"}
RECALL_MARK = 0.95
WRONG_SUPPRESSION_MARK = 0.03


def evaluate(corpus: Path) -> dict:
    labels: dict[str, str] = json.loads((corpus / "labels.json").read_text(encoding="utf-8"))
    table: dict[str, Counter] = defaultdict(Counter)
    disagreements = []
    for name, label in sorted(labels.items()):
        report = parse((corpus / name).read_bytes())
        table[label][str(report.kind)] += 1
        if str(report.kind) != label:
            disagreements.append((name, label, str(report.kind), report.reason, (report.diagnostic or "")[:100]))
    hard = table["hard"]
    not_suppressing = [label for label in table if label not in SUPPRESSING]
    wrongly = sum(sum(table[label][kind] for kind in SUPPRESSING) for label in not_suppressing)
    others = sum(sum(table[label].values()) for label in not_suppressing)
    return {
        "reports": len(labels),
        "table": {label: dict(counts) for label, counts in sorted(table.items())},
        "hard_found": hard["hard"],
        "hard_missed": sum(hard.values()) - hard["hard"],
        "hard_recall": hard["hard"] / max(1, sum(hard.values())),
        "wrong_suppressions": wrongly,
        "not_hard_or_complaint": others,
        "wrong_suppression_share": wrongly / max(1, others),
        "disagreements": disagreements,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "fixtures" / "bounce_corpus")
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args()
    result = evaluate(options.corpus)
    print(f"{result['reports']} labelled reports in {options.corpus}")
    print(f"{'label':<12} read as")
    for label, counts in result["table"].items():
        print(f"{label:<12} " + ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())))
    print(
        f"hard found {result['hard_found']}, hard missed {result['hard_missed']}, "
        f"recall {result['hard_recall']:.3f} (mark ≥ {RECALL_MARK})"
    )
    print(
        f"reports neither hard nor complaint that would suppress at once: {result['wrong_suppressions']} of "
        f"{result['not_hard_or_complaint']} ({100 * result['wrong_suppression_share']:.1f} %, mark ≤ "
        f"{100 * WRONG_SUPPRESSION_MARK:.0f} %)"
    )
    if options.verbose:
        for name, label, kind, reason, diagnostic in result["disagreements"]:
            print(f"  {name}: labelled {label}, read {kind} ({reason}): {diagnostic!r}")
    met = result["hard_recall"] >= RECALL_MARK and result["wrong_suppression_share"] <= WRONG_SUPPRESSION_MARK
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
