"""The hand-written duplicate pairs (tests/data/duplicates_vi/) read as promised, and
bench/dedupe.py reports both sets' figures.

What the pairs are is checked, not their scores: the figures are the benchmark's.
"""

from __future__ import annotations

import json
from collections import Counter

from a0core import personal_id
from a0core.schemas import registry
from bench import dedupe, handset


def _both() -> dict[str, list[handset.HandPair]]:
    return {"dev": handset.read(handset.TUNING), "test": handset.read(handset.SCORED)}


def test_at_least_300_pairs_across_regions_and_groups_each_with_a_reason() -> None:
    splits = _both()
    pairs = splits["dev"] + splits["test"]
    assert len(pairs) >= 300 and len(splits["test"]) >= 200
    assert all(p.reason and len(p.reason) > 8 for p in pairs)
    assert len({p.region for p in pairs}) >= 15
    groups = Counter(r.ethnicity for p in pairs for r in (p.a, p.b))
    assert {"kinh", "tay", "nung", "mong", "dao", "thai", "muong", "khmer", "e_de",
            "gia_rai", "ba_na"} <= set(groups) and len(groups) >= 25
    for split in splits.values():  # both kinds in each split, the hard ones included
        labels = Counter(p.duplicate for p in split)
        assert labels[True] > 50 and labels[False] > 40


def test_the_hard_non_duplicates_are_there() -> None:
    pairs = [p for split in _both().values() for p in split if not p.duplicate]
    twins = [p for p in pairs if p.a.household == p.b.household
             and p.a.birth_date == p.b.birth_date and len(p.a.birth_date) == 10]
    generations = [p for p in pairs if p.a.full_name == p.b.full_name
                   and abs(int(p.a.birth_date[:4]) - int(p.b.birth_date[:4])) >= 15]
    numbers = [p for p in pairs if p.a.id_number and p.b.id_number
               and p.a.id_number != p.b.id_number]
    common = [p for p in pairs if p.a.household != p.b.household
              and p.a.full_name == p.b.full_name and p.a.birth_date[:4] == p.b.birth_date[:4]]
    assert len(twins) >= 25 and len(generations) >= 25 and len(numbers) >= 12
    assert len(common) >= 20


def test_numbers_written_by_hand_are_valid_and_the_splits_do_not_overlap() -> None:
    splits = _both()
    provinces = {c.attrs["id_code"] for c in registry().codelist("id_province").codes}
    for p in splits["dev"] + splits["test"]:
        for r in (p.a, p.b):
            if r.id_number:
                assert personal_id.problems(r.id_number, provinces, 2026) == [], p.line
    seen = {(p.a.full_name, p.b.full_name, p.a.birth_date) for p in splits["dev"]}
    assert not [p for p in splits["test"]
                if (p.a.full_name, p.b.full_name, p.a.birth_date) in seen]


def test_the_benchmark_reports_both_sets(capsys) -> None:
    assert dedupe.main(["--households", "120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"precision", "recall", "hand_precision", "hand_recall", "hand_pairs",
            "hand_duplicates", "detect_s"} <= set(out)
    assert out["hand_pairs"] == len(handset.read(handset.SCORED))
    assert all(0 <= out[k] <= 1 for k in ("precision", "recall", "hand_precision",
                                          "hand_recall"))
