"""The hand-written duplicate pairs of ``tests/data/duplicates_vi/``: read, load, score.

The format is described in that folder's README.md. Each pair becomes a commune of
its own (so pairs never meet): one household per ``hộ`` label, the pair's two
records and the fellows listed for context. :func:`evaluate` loads every pair with
the bulk loader into the given session's database, runs the real detection over
all of them and returns each labelled pair's score (0 when detection never
proposed it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from a0core.names import fold
from a0core.schemas import registry
from server.models.duplicates import DuplicateCandidate
from server.models.register import Household
from server.register.bulk import Writer, load_area
from server.sync.duplicates.detect import detect
from server.sync.duplicates.scoring import Thresholds

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "duplicates_vi"
TUNING, SCORED = DATA / "dev.txt", DATA / "test.txt"
PROVINCE = "99"
_FELLOW = re.compile(r"^(?P<name>.+?)\s*(?:\((?P<year>\d{4})\))?$")
_SEX = {"nam": "male", "nữ": "female"}


@dataclass(frozen=True)
class HandRecord:
    full_name: str
    sex: str
    birth_date: str        # ISO: YYYY-MM-DD or YYYY
    ethnicity: str
    household: str
    fellows: tuple[tuple[str, str], ...] = ()  # (name, birth year or "")
    id_number: str | None = None
    bhyt: str | None = None


@dataclass(frozen=True)
class HandPair:
    duplicate: bool
    a: HandRecord
    b: HandRecord
    reason: str
    region: str
    line: int


class FormatError(ValueError):
    pass


def _ethnicities() -> dict[str, str]:
    out = {}
    for code in registry().codelist("ethnicity").codes:
        for name in (code.vi, *code.attrs.get("aka", ())):
            out[fold(name)] = code.code
    return out


def _iso(text: str) -> str:
    if re.fullmatch(r"\d{4}", text):
        return text
    day, month, year = text.split("/")
    return f"{year}-{month}-{day}"


def _record(text: str, ethnic: dict[str, str], where: str) -> HandRecord:
    parts = [p.strip() for p in text.split(";")]
    if len(parts) < 5:
        raise FormatError(f"{where}: a record needs name; sex; birth; ethnic group; household")
    name, sex, born, group, household, *extra = parts
    if sex not in _SEX or fold(group) not in ethnic or not household.startswith("hộ "):
        raise FormatError(f"{where}: bad sex, ethnic group or household in {text!r}")
    fellows: list[tuple[str, str]] = []
    numbers: dict[str, str] = {}
    for item in extra:
        if item.startswith("với "):
            for fellow in item[4:].split(","):
                found = _FELLOW.match(fellow.strip())
                assert found is not None
                fellows.append((found["name"], found["year"] or ""))
        elif item.split(" ", 1)[0] in ("CCCD", "BHYT") and " " in item:
            kind, number = item.split(" ", 1)
            numbers[kind] = number
        else:
            raise FormatError(f"{where}: unknown part {item!r}")
    return HandRecord(name, _SEX[sex], _iso(born), ethnic[fold(group)], household,
                      tuple(fellows), numbers.get("CCCD"), numbers.get("BHYT"))


def read(path: Path) -> list[HandPair]:
    ethnic = _ethnicities()
    pairs, region = [], ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("## "):
            region = line[3:].strip()
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        where = f"{path.name}:{number}"
        if len(fields) != 4 or fields[0] not in ("dup", "not") or not fields[3]:
            raise FormatError(f"{where}: expected 'dup|not | A | B | reason'")
        pairs.append(HandPair(fields[0] == "dup", _record(fields[1], ethnic, where),
                              _record(fields[2], ethnic, where), fields[3], region, number))
    return pairs


# -- loading ----------------------------------------------------------------------------

@dataclass
class _Area:
    area_code: str
    households: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    woman_status: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    distributions: list[dict[str, Any]] = field(default_factory=list)


def _member(household: str, name: str, sex: str, born: str, ethnicity: str,
            id_number: str | None = None, bhyt: str | None = None) -> dict[str, Any]:
    record = {"id": str(uuid.uuid4()), "household_id": household, "full_name": name,
              "relation": "other", "sex": sex, "birth_date": born, "ethnicity": ethnicity,
              "marital_status": "single", "residence_status": "present"}
    if id_number:
        record["id_number"] = id_number
    if bhyt:
        record["bhyt_number"] = bhyt
    return record


def _fellow_sex(name: str) -> str:
    return "female" if {"thi", "h", "y"} & set(fold(name).replace("'", " ").split()) else "male"


def load(session: Session, pairs: Iterable[HandPair]) -> list[tuple[str, str]]:
    """Load every pair into a commune of its own; the (a, b) member ids of each pair."""
    ids = []
    writer = Writer("handset", 1)
    for index, pair in enumerate(pairs):
        commune = f"H{index:05d}"
        areas: dict[str, _Area] = {}
        households: dict[str, str] = {}
        pair_ids = []
        for record in (pair.a, pair.b):
            if record.household not in households:
                area = areas.setdefault(record.household,
                                        _Area(f"{commune}.{len(areas) + 1}"))
                households[record.household] = str(uuid.uuid4())
                area.households.append({"id": households[record.household],
                                        "area_code": area.area_code,
                                        "number": str(len(areas)), "address": ""})
            area = areas[record.household]
            home = households[record.household]
            area.members.append(_member(home, record.full_name, record.sex, record.birth_date,
                                        record.ethnicity, record.id_number, record.bhyt))
            pair_ids.append(area.members[-1]["id"])
            for name, year in record.fellows:
                area.members.append(_member(home, name, _fellow_sex(name), year or "1970",
                                            record.ethnicity))
        for area in areas.values():
            load_area(session, area, PROVINCE, commune, writer)
        ids.append((pair_ids[0], pair_ids[1]))
    return ids


def evaluate(session: Session, pairs: list[HandPair],
             low: float = 0.01) -> list[tuple[HandPair, float, dict[str, Any] | None]]:
    """Each pair with its score in the review queue (detection with threshold ``low``),
    and its reasons; 0 and ``None`` when detection never proposed it. The caller
    commits or rolls back."""
    ids = load(session, pairs)
    households = list(session.scalars(select(Household.id).where(
        Household.province_code == PROVINCE)))
    detect(session, [], households, Thresholds(member=low, household=1.0), whole=True)
    found = {(c.a_id, c.b_id): (c.score, c.reasons) for c in session.scalars(
        select(DuplicateCandidate).where(DuplicateCandidate.kind == "member",
                                         DuplicateCandidate.province_code == PROVINCE))}
    out = []
    for pair, (a, b) in zip(pairs, ids, strict=True):
        score, reasons = found.get((min(a, b), max(a, b)), (0.0, None))
        out.append((pair, score, reasons))
    return out


def precision_recall(scored: list[tuple[HandPair, float, Any]],
                     threshold: float) -> tuple[float, float]:
    flagged = [p for p, s, _ in scored if s >= threshold]
    hits = sum(p.duplicate for p in flagged)
    truth = sum(p.duplicate for p, _, _ in scored)
    return (hits / len(flagged) if flagged else 1.0), (hits / truth if truth else 1.0)
