"""Read the official administrative-unit lists into one neutral shape.

Three formats are known (all in shared/data/admin_units/):

* the 2025 two-level list (after the 2025-07-01 reform): a JSON array of
  provinces, each with ``Code``, ``Name``, ``FullName``, ``NameEn`` and ``Wards``;
* the dvhcvn three-level list (2025-03-01): ``{"data": [{"level1_id", "name",
  "type", "level2s": [{"level2_id", ..., "level3s": [...]}]}]}``;
* the statistics office's conversion table of the reform (old commune → new
  communes): ``{"effective_date", "old_to_new": {"06010": {"district", "province",
  "partly", "new": [["06001", "20"], ...]}}}`` — a :class:`ConversionTable`. Its
  licence (GPL) is not the project's (MIT): it is read from where the user keeps
  it, never copied into the repository.

Each reader validates every record before anything is written and raises an
:class:`~a0core.errors.A0Error` naming the file, the record and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a0core.errors import A0Error
from server.models.orgunits import LEVEL_COMMUNE, LEVEL_DISTRICT, LEVEL_PROVINCE

CODE_PATTERNS = {
    LEVEL_PROVINCE: re.compile(r"^\d{2}$"),
    LEVEL_DISTRICT: re.compile(r"^\d{3}$"),
    LEVEL_COMMUNE: re.compile(r"^\d{5}$"),
}
# Longest first, so "Thành phố" is not mistaken for a shorter prefix.
TYPE_PREFIXES = ("Thành phố", "Thị trấn", "Thị xã", "Đặc khu", "Phường", "Quận", "Huyện",
                 "Tỉnh", "Xã")


@dataclass(frozen=True)
class UnitSpec:
    code: str
    level: str
    name: str
    full_name: str
    unit_type: str | None
    parent_code: str | None
    province_code: str
    name_en: str | None = None


@dataclass(frozen=True)
class OfficialList:
    tree: str
    title: str
    levels: list[str]
    data_date: str | None
    units: list[UnitSpec]


def _text(file: str, record: str, raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise A0Error("orgunit_record_invalid", file=file, record=record, field=key,
                      detail="thiếu hoặc rỗng / missing or empty")
    return " ".join(value.split())


def _code(file: str, record: str, raw: dict[str, Any], key: str, level: str) -> str:
    code = raw.get(key)
    if not isinstance(code, str) or not CODE_PATTERNS[level].match(code):
        raise A0Error("orgunit_record_invalid", file=file, record=record, field=key,
                      detail=f"mã {level} sai / bad {level} code {code!r}")
    return code


def _children(file: str, record: str, raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = raw.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise A0Error("orgunit_record_invalid", file=file, record=record, field=key,
                      detail="phải là danh sách / must be a list of objects")
    return items


def split_type(full_name: str) -> tuple[str | None, str]:
    """``"Phường Ba Đình"`` → ``("Phường", "Ba Đình")``."""
    for prefix in TYPE_PREFIXES:
        if full_name.lower().startswith(prefix.lower() + " "):
            return prefix, full_name[len(prefix) + 1:]
    return None, full_name


def _two_level(file: str, data: Any) -> OfficialList:
    units: list[UnitSpec] = []
    for i, prov in enumerate(data):
        where = f"#{i}"
        if not isinstance(prov, dict):
            raise A0Error("orgunit_record_invalid", file=file, record=where, field="(record)",
                          detail="không phải đối tượng / not an object")
        pcode = _code(file, where, prov, "Code", LEVEL_PROVINCE)
        full = _text(file, pcode, prov, "FullName")
        units.append(UnitSpec(pcode, LEVEL_PROVINCE, _text(file, pcode, prov, "Name"), full,
                              split_type(full)[0], None, pcode, prov.get("NameEn")))
        for ward in _children(file, pcode, prov, "Wards"):
            wcode = _code(file, f"{pcode}/{ward.get('Code')}", ward, "Code", LEVEL_COMMUNE)
            if ward.get("ProvinceCode", pcode) != pcode:
                raise A0Error("orgunit_record_invalid", file=file, record=wcode,
                              field="ProvinceCode", detail=f"≠ {pcode}")
            wfull = _text(file, wcode, ward, "FullName")
            units.append(UnitSpec(wcode, LEVEL_COMMUNE, _text(file, wcode, ward, "Name"), wfull,
                                  split_type(wfull)[0], pcode, pcode, ward.get("NameEn")))
    return OfficialList("vn-2025-07", "Đơn vị hành chính 2025 (2 cấp) / 2025 two-level units",
                        [LEVEL_PROVINCE, LEVEL_COMMUNE], "2025-07-01", units)


def _three_level(file: str, data: dict[str, Any]) -> OfficialList:
    units: list[UnitSpec] = []

    def add(raw: dict[str, Any], where: str, key: str, level: str, parent: str | None,
            province: str | None) -> str:
        code = _code(file, where, raw, key, level)
        full = _text(file, code, raw, "name")
        unit_type = raw.get("type") if isinstance(raw.get("type"), str) else None
        short = split_type(full)[1]
        units.append(UnitSpec(code, level, short, full, unit_type, parent, province or code))
        return code

    for i, prov in enumerate(_children(file, "(root)", data, "data")):
        pcode = add(prov, f"#{i}", "level1_id", LEVEL_PROVINCE, None, None)
        for j, dist in enumerate(_children(file, pcode, prov, "level2s")):
            dcode = add(dist, f"{pcode}/#{j}", "level2_id", LEVEL_DISTRICT, pcode, pcode)
            for k, comm in enumerate(_children(file, dcode, dist, "level3s")):
                add(comm, f"{dcode}/#{k}", "level3_id", LEVEL_COMMUNE, dcode, pcode)
    raw_date = data.get("data_date")  # "01/03/2025"
    iso = None
    if isinstance(raw_date, str) and re.match(r"^\d{2}/\d{2}/\d{4}$", raw_date):
        iso = f"{raw_date[6:]}-{raw_date[3:5]}-{raw_date[:2]}"
    tree = f"vn-{iso[:7]}" if iso else "vn-3-level"
    return OfficialList(tree, "Đơn vị hành chính 3 cấp / three-level units"
                        + (f" {iso}" if iso else ""),
                        [LEVEL_PROVINCE, LEVEL_DISTRICT, LEVEL_COMMUNE], iso, units)


def _detect(data: Any) -> Callable[[str, Any], OfficialList] | None:
    if isinstance(data, list) and data and isinstance(data[0], dict) and "Wards" in data[0]:
        return _two_level
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        first = data["data"][0] if data["data"] else {}
        if isinstance(first, dict) and "level1_id" in first:
            return _three_level
    return None


def reader_note(exc: Exception) -> str:
    """The reader's own words about a file (English), with the line and column of a
    JSON error: a note under the refusal's sentences, never inside them."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}: line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc)[:200]


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise A0Error("orgunit_file_unreadable", file=path.name, note=reader_note(exc)) from None


def read_admin_file(path: Path) -> OfficialList | ConversionTable:
    """An official list or the conversion table, whichever the file holds."""
    data = _load(path)
    if is_conversion(data):
        return _conversion(path.name, data)
    return _official(path.name, data)


def read_official_list(path: Path) -> OfficialList:
    return _official(path.name, _load(path))


def _official(file: str, data: Any) -> OfficialList:
    reader = _detect(data)
    if reader is None:
        raise A0Error("orgunit_file_format", file=file)
    official = reader(file, data)
    seen: set[str] = set()
    for unit in official.units:
        if unit.code in seen:
            raise A0Error("orgunit_duplicate_code", file=file, record=unit.code)
        seen.add(unit.code)
    return official


def iter_levels(units: list[UnitSpec], levels: list[str]) -> Iterator[list[UnitSpec]]:
    """Units grouped by level, parents before children."""
    for level in levels:
        yield [u for u in units if u.level == level]


# ------------------------------------------------------------ conversion table


@dataclass(frozen=True)
class Link:
    """One old commune of the conversion table and the new communes it went into."""

    old_code: str
    old_district: str | None
    old_province: str | None
    partly: bool
    new: tuple[tuple[str, str], ...]  # (new commune code, new province code), table order


@dataclass(frozen=True)
class ConversionTable:
    effective_date: str | None
    source: str
    links: list[Link]


def is_conversion(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("old_to_new"), dict)


def _conversion(file: str, data: dict[str, Any]) -> ConversionTable:
    links = []
    for old_code, raw in data["old_to_new"].items():
        if not isinstance(old_code, str) or not CODE_PATTERNS[LEVEL_COMMUNE].match(old_code):
            raise A0Error("orgunit_record_invalid", file=file, record=str(old_code)[:40],
                          field="(key)", detail="mã xã cũ sai / bad old commune code")
        if not isinstance(raw, dict):
            raise A0Error("orgunit_record_invalid", file=file, record=old_code,
                          field="(record)", detail="không phải đối tượng / not an object")
        partly = raw.get("partly", False)
        if not isinstance(partly, bool):
            raise A0Error("orgunit_record_invalid", file=file, record=old_code, field="partly",
                          detail="phải là true/false / must be true or false")
        new = raw.get("new")
        pairs = []
        if not isinstance(new, list) or not new:
            raise A0Error("orgunit_record_invalid", file=file, record=old_code, field="new",
                          detail="phải là danh sách không rỗng / must be a non-empty list")
        for pair in new:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(p, str) for p in pair)
                    and CODE_PATTERNS[LEVEL_COMMUNE].match(pair[0])
                    and CODE_PATTERNS[LEVEL_PROVINCE].match(pair[1])):
                raise A0Error("orgunit_record_invalid", file=file, record=old_code, field="new",
                              detail=f"cặp mã sai / bad code pair {str(pair)[:40]}")
            if tuple(pair) not in pairs:
                pairs.append((pair[0], pair[1]))
        district, province = raw.get("district"), raw.get("province")
        links.append(Link(old_code, district if isinstance(district, str) else None,
                          province if isinstance(province, str) else None, partly,
                          tuple(pairs)))
    date = data.get("effective_date")
    date = date if isinstance(date, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", date) else None
    source = data.get("source")
    return ConversionTable(date, source[:400] if isinstance(source, str) else file, links)
