"""The labelled duplicate set: deterministic, realistic errors, true pairs, namesakes,
twins, fathers and sons of one name, identification numbers."""

from __future__ import annotations

from collections import Counter

from a0core import personal_id
from a0core.names import fold
from server.synthetic.duplicates import ERROR_RATES, labelled_set


def test_same_seed_same_set_and_another_seed_another() -> None:
    a, b, c = labelled_set(5, households=150), labelled_set(5, households=150), labelled_set(
        6, households=150)
    assert list(a.members()) == list(b.members()) and a.member_pairs == b.member_pairs
    assert a.member_pairs != c.member_pairs


def test_pairs_are_real_copies_with_the_promised_errors() -> None:
    s = labelled_set(9, households=1500)
    members = {m["id"]: m for m in s.members()}
    households = {h["id"] for a in s.areas for h in a.households}
    assert s.member_pairs and s.household_pairs
    for x, y in s.member_pairs:
        a, b = members[x], members[y]
        assert x < y and a["sex"] == b["sex"]
        assert abs(int(a["birth_date"][:4]) - int(b["birth_date"][:4])) <= 1
        assert a["household_id"] != b["household_id"]
        if a.get("id_number") and b.get("id_number"):  # kept, or one digit mistyped
            assert a["id_number"] == b["id_number"] or personal_id.near(a["id_number"],
                                                                         b["id_number"])
    for x, y in s.household_pairs:
        assert x < y and {x, y} <= households
    # every kind of clerical error occurs, roughly at its rate
    copies = len(s.member_pairs)
    for error in ("no_diacritics", "wrong_tone", "typo", "reorder", "spaces", "drop_middle"):
        assert 0.3 * ERROR_RATES[error] * copies <= s.errors.get(error, 0) \
            <= 2 * ERROR_RATES[error] * copies, error
    for error in ("swap_day_month", "year_only", "sound", "abbreviate", "year_off", "days_off",
                  "id_typo"):
        assert s.errors.get(error, 0) > 0, error
    # different people with the same name: many Nguyễn Văn Hùng, not labelled as pairs
    hung = [m["id"] for m in s.members() if m["full_name"] == "Nguyễn Văn Hùng"]
    assert len(hung) >= 12 and s.namesakes > 12
    same_name = Counter(fold(m["full_name"]) for m in s.members())
    assert same_name.most_common(1)[0][1] >= 12
    labelled_ids = {i for pair in s.member_pairs for i in pair}
    assert sum(1 for i in hung if i not in labelled_ids) >= 10


def test_the_hard_non_duplicates_are_there_and_not_labelled() -> None:
    s = labelled_set(9, households=1500)
    people = list(s.members())
    labelled_ids = {i for pair in s.member_pairs for i in pair}
    by_day: dict[tuple[str, str, str], list[dict]] = {}
    for m in people:
        by_day.setdefault((m["household_id"], m["birth_date"], m["sex"]), []).append(m)
    twins = [group for group in by_day.values() if len(group) == 2
             and group[0]["full_name"] != group[1]["full_name"]
             and group[0]["relation"] == group[1]["relation"] == "child"]
    assert len(twins) >= s.twins > 10
    assert any(fold(a["full_name"]) == fold(b["full_name"]) for a, b in twins)  # a tone apart
    assert not {(min(a["id"], b["id"]), max(a["id"], b["id"])) for a, b in twins} \
        & s.member_pairs
    by_name: dict[str, list[dict]] = {}
    for m in people:
        by_name.setdefault(m["full_name"], []).append(m)
    generations = [(a, b) for group in by_name.values() for a in group for b in group
                   if a["sex"] == "male" and int(b["birth_date"][:4]) - int(a["birth_date"][:4])
                   >= 20 and a["id"] not in labelled_ids and b["id"] not in labelled_ids]
    assert len(generations) >= s.same_name_sons > 5
    # about half of the people of 14 and over carry a number that agrees with them (a
    # copy keeps the original's number even where its own year of birth is mistyped)
    numbered = [m for m in people if m.get("id_number")]
    assert 0.3 * len(people) < len(numbered) < 0.6 * len(people)
    for m in numbered:
        if m["id"] not in labelled_ids:
            assert personal_id.disagreements(m["id_number"], m["sex"], m["birth_date"]) == []
