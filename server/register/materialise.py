"""Columns of register rows, derived from merged form data and the folded state.

The bulk loader and sync ingestion both write through these functions, so a
column is derived in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from a0core.projection import STATE_FIELDS
from server.sync.duplicates.scoring import block_columns


def household_columns(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "area_code": data["area_code"],
        "village_code": data.get("village_code"),
        "number": data.get("number", ""),
        "address": data.get("address"),
        "head_member_id": data.get("head_member_id"),
    }


def member_columns(data: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    birth = data.get("birth_date") or ""
    year = int(birth[:4]) if birth[:4].isdigit() else 0
    return {
        "full_name": data.get("full_name", ""),
        "relation": data.get("relation"),
        "sex": data.get("sex", ""),
        "birth_date": birth,
        "birth_year": year,
        **block_columns(data.get("full_name", ""), data.get("sex"), birth,
                        data.get("id_number"), data.get("bhyt_number")),
        "ethnicity": data.get("ethnicity"),
        "bhyt_number": data.get("bhyt_number"),
        "mother_id": data.get("mother_id"),
        "registered_on": data.get("registered_on"),
        "recorded_on": data.get("recorded_on"),
        **{name: state.get(name) for name in STATE_FIELDS},
        # the household on the last fact's day (a0core.projection: dated membership)
        "household_id": state.get("household_id") or data["household_id"],
    }


def event_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "household_id": record["household_id"],
        "member_id": record["member_id"],
        "event_date": record["event_date"],
        "payload": dict(record),
    }


def distribution_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "household_id": record["household_id"],
        "member_id": record.get("member_id"),
        "method": record["method"],
        "quantity": record["quantity"],
        "distributed_on": record["distributed_on"],
        "source": record.get("source"),
        "unit_price": record.get("unit_price"),
    }
