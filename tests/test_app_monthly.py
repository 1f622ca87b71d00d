"""The app core's monthly close and household split, without a screen or a server:
the month's entries counted per section, the slip operation, the server's word
from a pull page, a correction that re-opens the month; a split that is one
unit of work with its date."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from a0core.envelope import DeviceKeys
from a0core.errors import A0Error
from clients.kivy_app.core.app import AppCore
from clients.kivy_app.core.monthly import CHANGED, CLOSED, INCOMPLETE, OPEN, WAITING
from server.security.keys import ServerKey
from tests.test_app_core import AREA, HEAD, PIN

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def phone(folder: Path, now: dt.datetime = NOW) -> AppCore:
    core = AppCore(folder, kdf_n=2 ** 12, now_ms=lambda: int(now.timestamp() * 1000))
    answer = {"device_id": str(uuid.uuid4()), "area": AREA,
              "collaborator": {"id": 1, "full_name": "Nguyễn Thị Test"},
              "server_key": ServerKey.generate().public().to_dict(), "server_hlc": 0}
    core.provision("http://127.0.0.1:9", answer, DeviceKeys.generate(), PIN)
    return core


def family(core: AppCore) -> tuple[str, list[str]]:
    h = core.save_entity("household", {"number": "7", "address": "Xóm Trại Găng"})
    ids = []
    for name, relation in (("Nguyễn Thị Thuỷ", "head"), ("Lê Văn Hùng", "spouse"),
                           ("Lê Văn Nam", "child")):
        m = core.save_entity("member", {**HEAD, "full_name": name, "relation": relation},
                             context={"household_id": h.id})
        assert m.ok, m.errors
        ids.append(m.id)
    return h.id, ids


def _ops(core: AppCore) -> list[dict]:
    return [row["op"] for row in reversed(core.outbox_rows())]


def test_a_split_is_dated_and_written_whole(tmp_path: Path) -> None:
    core = phone(tmp_path)
    home, (mum, dad, son) = family(core)
    before = len(_ops(core))
    with pytest.raises(A0Error) as nobody:
        core.split_household(home, [], "2026-11-20", "8")
    with pytest.raises(A0Error) as everybody:
        core.split_household(home, [mum, dad, son], "2026-11-20", "8")
    assert (nobody.value.code, everybody.value.code) == ("app_split_nobody",
                                                        "app_split_everybody")
    bad = core.split_household(home, [son, dad], "2026-02-30", "8")  # no such day
    assert not bad.ok and "event_date" in bad.errors
    assert len(_ops(core)) == before and len(core.register.rows()) == 1  # nothing written

    done = core.split_household(home, [son, dad], "2026-11-20", "8")
    assert done.ok
    ops = _ops(core)[before:]
    assert [(o["type"], o["form"]) for o in ops] == [
        ("upsert", "household"), ("event", "household_change"),
        ("event", "household_change"), ("upsert", "member")]
    assert ops[0]["fields"]["head_member_id"] == son and ops[-1]["fields"] == {"relation": "head"}
    assert {o["fields"]["event_date"] for o in ops[1:3]} == {"2026-11-20"}
    reg = core.register
    assert [m.id for m in reg.members_of(home)] == [mum]
    assert {m.id for m in reg.members_of(done.id)} == {son, dad}
    assert reg.household_of(reg.get(dad)) == done.id
    assert reg.get(dad).data["household_id"] == home  # the record keeps where they began
    assert reg.month_counts("2026-11")["household_changes"] == 2
    core.lock()  # what is stored says the same after a restart
    core.unlock(PIN)
    assert {m.id for m in core.register.members_of(done.id)} == {son, dad}


def test_the_month_is_closed_sent_confirmed_reopened_and_closed_again(tmp_path: Path) -> None:
    core = phone(tmp_path)
    home, (mum, _dad, _son) = family(core)
    first = core.slip_months()[0]
    assert (first.month, first.state, first.nil) == ("2026-11", OPEN, True)
    assert first.title() == "Nộp phiếu P0 tháng 11/2026 (không có thay đổi)"
    death = core.record_fact("death", {"event_date": "2026-11-10", "cause_group": "old_age"},
                             {"household_id": home, "member_id": mum})
    assert death.ok, death.errors
    started = core.record_fact("method_start", {"event_date": "2026-10-02", "method": "pill",
                                                "source": "ctv"},
                               {"household_id": home, "member_id": mum})  # another month
    assert started.ok, started.errors
    month = core.slip_months()[0]
    assert month.counts["deaths"] == 1 and sum(month.counts.values()) == 1 and not month.nil

    closed = core.close_month("2026-11")
    slip = _ops(core)[-1]
    assert (slip["type"], slip["form"], slip["id"]) == ("report", "p0_report", closed.id)
    assert slip["fields"]["month"] == "2026-11" and slip["fields"]["deaths"] == 1
    assert slip["fields"]["closed_on"] == "2026-12-03"
    assert core.slip_months()[0].state == WAITING
    assert {m.month for m in core.slip_months()} == {"2026-11", "2026-10"}

    def heard(slip_id: str, differing: list[str]) -> None:
        core.apply_page({"changes": [], "verdicts": [], "cursor": 0, "more": False,
                         "server_hlc": 0, "reports": [{
                             "month": "2026-11", "state": "on_time", "slip_id": slip_id,
                             "closed_on": "2026-12-03", "incomplete": bool(differing),
                             "differing": differing, "held": {}}]})

    heard(closed.id, [])
    assert core.slip_months()[0].state == CLOSED
    assert core.slip_months()[0].words() == "Máy chủ đã nhận, số liệu khớp"
    # a correction dated in the closed month re-opens it
    core.void("event", death.id, "ghi nhầm")
    assert core.slip_months()[0].state == CHANGED and core.slip_months()[0].may_close
    again = core.close_month("2026-11")
    assert core.slip_months()[0].state == WAITING  # the server holds the older slip only
    heard(again.id, ["births"])
    view = core.slip_months()[0]
    assert view.state == INCOMPLETE and view.words() == (
        "Máy chủ đã nhận nhưng số liệu chưa khớp: Sinh")
    with pytest.raises(A0Error) as early:
        core.close_month("2026-12")
    assert early.value.code == "report_month_open" and "12/2026" in early.value.vi


def test_the_last_day_of_a_month_may_close_it(tmp_path: Path) -> None:
    evening = dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    core = phone(tmp_path, evening)
    assert core.slip_months()[0].month == "2026-10"  # the month whose slip is due
    assert core.close_month("2026-11").ok  # its last day: allowed (one day of slack)
    with pytest.raises(A0Error):
        core.close_month("2026-12")
