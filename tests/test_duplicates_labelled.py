"""The labelled duplicate set: deterministic, realistic errors, true pairs and namesakes."""

from __future__ import annotations

from collections import Counter

from a0core.names import fold
from server.synthetic.duplicates import ERROR_RATES, labelled_set


def test_same_seed_same_set_and_another_seed_another() -> None:
    a, b, c = labelled_set(5, households=150), labelled_set(5, households=150), labelled_set(
        6, households=150)
    assert list(a.members()) == list(b.members()) and a.member_pairs == b.member_pairs
    assert a.member_pairs != c.member_pairs


def test_pairs_are_real_copies_with_the_promised_errors() -> None:
    s = labelled_set(9, households=500)
    members = {m["id"]: m for m in s.members()}
    households = {h["id"] for a in s.areas for h in a.households}
    assert s.member_pairs and s.household_pairs
    for x, y in s.member_pairs:
        a, b = members[x], members[y]
        assert x < y and a["sex"] == b["sex"] and a["birth_date"][:4] == b["birth_date"][:4]
        assert a["household_id"] != b["household_id"]
    for x, y in s.household_pairs:
        assert x < y and {x, y} <= households
    # every kind of clerical error occurs, roughly at its rate
    copies = len(s.member_pairs)
    for error in ("no_diacritics", "wrong_tone", "typo", "reorder", "spaces"):
        assert 0.3 * ERROR_RATES[error] * copies <= s.errors.get(error, 0) \
            <= 2 * ERROR_RATES[error] * copies, error
    assert s.errors.get("swap_day_month", 0) > 0 and s.errors.get("year_only", 0) > 0
    # different people with the same name: many Nguyễn Văn Hùng, not labelled as pairs
    hung = [m["id"] for m in s.members() if m["full_name"] == "Nguyễn Văn Hùng"]
    assert len(hung) >= 12 and s.namesakes > 12
    same_name = Counter(fold(m["full_name"]) for m in s.members())
    assert same_name.most_common(1)[0][1] >= 12
    labelled_ids = {i for pair in s.member_pairs for i in pair}
    assert sum(1 for i in hung if i not in labelled_ids) >= 10
