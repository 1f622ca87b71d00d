"""The app's core as the collaborator's screens use it (issue 15), without a screen:
dates the Vietnamese way, refusals that name the field and the format, forms that
refuse a person they do not apply to, suggestions that save taps, and outbox
states that never call a change sent before it left whole."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from a0core.envelope import parse_envelope
from a0core.sync_client import HttpResponse, RetryPolicy, TransportError
from clients.kivy_app.core import dates, suggest
from clients.kivy_app.core.app import AppCore
from clients.kivy_app.core.formview import FormView, sentences
from clients.kivy_app.core.outbox import PENDING, QUEUED, SENT
from tests.test_app_core import HEAD, device

TODAY = dates.today()


def test_dates_are_read_and_shown_day_first() -> None:
    for typed in ("03/12/2026", "3/12/2026", "03-12-2026", "03.12.2026", " 3 / 12 / 2026 ",
                  "2026-12-03"):
        assert dates.parse(typed) == "2026-12-03", typed
    for wrong in ("03/12/26", "31/02/2026", "2026", "12/2026", "hôm nay", "", "1/1/99999"):
        assert dates.parse(wrong) is None, wrong
    assert dates.parse("1990", year_alone=True) == "1990"
    assert dates.parse("29/02/2024") == "2024-02-29"
    assert dates.show("2026-12-03") == "03/12/2026"
    assert dates.show("1990") == "1990" and dates.show("2026-11") == "11/2026"
    assert dates.show(None) == ""


def phone(tmp_path: Path, transport=None) -> AppCore:
    core = device(tmp_path)
    if transport is not None:  # the sync client takes the phone's network at unlock
        core.transport = transport
        core.retry = RetryPolicy(attempts=2, base_delay=0.0, sleep=lambda s: None)
        core.lock()
        core.unlock("482916")
    return core


def family(core: AppCore) -> dict[str, str]:
    """A household: a woman of 31, her husband, their infant, a grandmother of 76."""
    h = core.save_entity("household", {"number": "7"})
    assert h.ok, h.errors
    ids = {"household": h.id}
    for key, data in (("woman", {**HEAD, "birth_date": "1995-03-01"}),
                      ("man", {**HEAD, "full_name": "Lê Văn Hùng", "sex": "male",
                               "relation": "spouse", "birth_date": "1991-01-01"}),
                      ("infant", {**HEAD, "full_name": "Lê Minh Khang", "relation": "child",
                                  "birth_date": "2025-05-15", "marital_status": "single"}),
                      ("elder", {**HEAD, "full_name": "Phạm Thị Lành", "relation": "parent",
                                 "birth_date": "1950", "marital_status": "widowed"})):
        m = core.save_entity("member", data, context={"household_id": h.id})
        assert m.ok, m.errors
        ids[key] = m.id
    return ids


def test_a_fields_help_and_the_date_hint_read_as_two_sentences() -> None:
    """The birth date's help ran into the hint: «… ghi năm sinh Ghi ngày/tháng/năm …»."""
    from clients.kivy_app.ui.texts import tr  # words only: no Kivy

    birth = next(v for v in FormView("member").inputs() if v.name == "birth_date")
    shown = sentences(birth.help("vi"), tr("date_or_year_hint", "vi"))
    assert shown.startswith("Ghi ngày sinh đầy đủ; nếu chỉ biết năm thì ghi năm sinh. Ghi ngày")
    assert sentences("", tr("date_hint", "vi")) == tr("date_hint", "vi")
    assert sentences("Một câu.", "Hai") == "Một câu. Hai."


def test_a_date_that_does_not_read_says_the_format_and_writes_nothing(tmp_path: Path) -> None:
    core = phone(tmp_path)
    h = core.save_entity("household", {"number": "7"})
    before = core.outbox_counts()
    typed = core.save_entity("member", {**HEAD, "birth_date": "21/7/94"},
                             context={"household_id": h.id})
    assert not typed.ok and list(typed.errors) == ["birth_date"]
    [(vi, en)] = typed.errors["birth_date"]
    assert vi == (f'"Ngày sinh": hãy ghi ngày/tháng/năm (ví dụ {dates.example()}) hoặc chỉ '
                  f'năm (ví dụ 1990)')
    assert "day/month/year" in en and "(birth_date)" not in vi + en
    fact = core.record_fact("death", {"event_date": "2026-13-01"},
                            {"household_id": h.id, "member_id": h.id})
    assert "ngày/tháng/năm" in fact.errors["event_date"][0][0]
    assert "1990" not in fact.errors["event_date"][0][0]  # an event's day is never a year
    assert core.outbox_counts() == before


def test_a_form_that_does_not_apply_is_refused_here_in_the_servers_words(
        tmp_path: Path) -> None:
    core = phone(tmp_path)
    ids = family(core)
    before = core.outbox_counts()
    where = {"household_id": ids["household"]}
    check_up = core.record_fact("elderly_check", {"event_date": TODAY, "result": "healthy"},
                                {**where, "member_id": ids["woman"]})
    assert not check_up.ok and list(check_up.errors) == ["member_id"]
    assert "60 tuổi" in check_up.errors["member_id"][0][0]
    pills = core.record_fact("distribution", {"member_id": ids["elder"], "method": "pill",
                                              "quantity": 1, "distributed_on": TODAY,
                                              "source": "free"}, where)
    assert list(pills.errors) == ["method"] and "15 đến 49" in pills.errors["method"][0][0]
    assert core.outbox_counts() == before
    fine = core.record_fact("elderly_check", {"event_date": TODAY, "result": "healthy"},
                            {**where, "member_id": ids["elder"]})
    assert fine.ok, fine.errors
    # after her death, nothing more about her is offered or taken here
    died = core.record_fact("death", {"event_date": TODAY}, {**where, "member_id": ids["elder"]})
    assert died.ok, died.errors
    again = core.record_fact("elderly_check", {"event_date": TODAY, "result": "healthy"},
                             {**where, "member_id": ids["elder"]})
    assert again.ok  # the same day as the death: it counts from the day after
    tomorrow = (dt.date.fromisoformat(TODAY) + dt.timedelta(days=1)).isoformat()
    assert suggest.eligible(core.register, ids["household"], "elderly_check", tomorrow) == []


def test_forms_offer_whom_and_what_applies(tmp_path: Path) -> None:
    core = phone(tmp_path)
    ids = family(core)
    reg, hh = core.register, ids["household"]
    names = {v: k for k, v in ids.items()}
    assert [names[m.id] for m in suggest.eligible(reg, hh, "distribution", TODAY)] == \
        ["woman", "elder"]
    assert [names[m.id] for m in suggest.eligible(reg, hh, "birth", TODAY)] == ["woman"]
    assert [names[m.id] for m in suggest.eligible(reg, hh, "elderly_check", TODAY)] == ["elder"]
    assert suggest.allowed_codes(reg, "distribution", "method", ids["elder"], TODAY) == \
        ["condom"]
    assert suggest.allowed_codes(reg, "distribution", "method", ids["woman"], TODAY) == \
        ["pill", "condom", "emergency_pill"]
    assert suggest.allowed_codes(reg, "birth", "sex", ids["woman"], TODAY) is None


def test_suggestions_save_taps(tmp_path: Path) -> None:
    core = phone(tmp_path)
    core.profile["enrolment"]["villages"] = [{"code": "12619.01", "name": "Thôn 01"},
                                             {"code": "12619.02", "name": "Thôn 02"}]
    reg = core.register
    assert suggest.defaults(reg, "household", {}, core.villages) == {
        "number": "1", "village_code": "12619.01"}
    ids = family(core)
    hh = ids["household"]
    assert suggest.defaults(reg, "household", {}, core.villages)["number"] == "8"
    member = suggest.defaults(reg, "member", {"household_id": hh})
    assert member == {"residence_status": "present", "ethnicity": "kinh"}
    # no hand-out yet: only today and the usual supply (free, the list's first); then
    # her last recipient, method and how it was supplied
    assert suggest.defaults(reg, "distribution", {"household_id": hh}) == {
        "distributed_on": TODAY, "source": "free"}
    done = core.record_fact("distribution", {"member_id": ids["woman"], "method": "pill",
                                             "quantity": 3, "distributed_on": TODAY,
                                             "source": "social_marketing",
                                             "unit_price": 2000},
                            {"household_id": hh})
    assert done.ok, done.errors
    assert suggest.defaults(reg, "distribution", {"household_id": hh}) == {
        "distributed_on": TODAY, "member_id": ids["woman"], "method": "pill",
        "source": "social_marketing"}
    # the only woman who can give birth, and her next birth order (the infant is hers)
    assert core.save_entity("member", {"mother_id": ids["woman"]}, ids["infant"]).ok
    assert suggest.defaults(reg, "birth", {"household_id": hh}) == {
        "event_date": TODAY, "member_id": ids["woman"], "birth_order": 2}


class Line:
    """The phone's network: down, or up to a server that hears and never answers."""

    def __init__(self) -> None:
        self.mode = "down"
        self.bodies: list[bytes] = []

    def __call__(self, method, url, headers, body, timeout) -> HttpResponse:
        if self.mode == "down":
            raise TransportError("no signal")
        self.bodies.append(body or b"")
        raise TransportError("timed out after sending", reached=True)


def test_nothing_is_called_sent_before_it_left_whole(tmp_path: Path) -> None:
    line = Line()
    core = phone(tmp_path, line)
    family(core)
    assert set(core.outbox_counts()) == {PENDING}
    report = core.sync()
    assert report.offline and report.error.code == "network_unavailable"
    assert set(core.outbox_counts()) == {QUEUED}  # sealed, waiting to send: not sent
    assert core.last_sync()["error"] == "network_unavailable"
    line.mode = "deaf"
    report = core.sync()
    assert not report.offline and report.error.code == "server_no_answer"
    assert set(core.outbox_counts()) == {SENT}  # it went out whole; no answer yet
    # the same batch again, under the same id, so a server that kept it answers the same
    batches = {parse_envelope(b, max_bytes=len(b)).header["batch"] for b in line.bodies}
    assert len(batches) == 1
    line.mode = "down"
    assert core.sync().offline
    assert set(core.outbox_counts()) == {SENT}  # what left stays said to have left
    path = core.export_batch(tmp_path / "usb")
    assert path is None  # nothing new to carry: it is all in the sent batch


def test_a_file_to_carry_is_waiting_to_send(tmp_path: Path) -> None:
    core = phone(tmp_path, Line())
    family(core)
    assert core.export_batch(tmp_path / "usb") is not None
    assert set(core.outbox_counts()) == {QUEUED}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_field_messages_never_show_keys(tmp_path: Path, lang: str) -> None:
    core = phone(tmp_path)
    h = core.save_entity("household", {"number": "7"})
    empty = core.record_fact("distribution", {}, {"household_id": h.id})
    shown = [vi if lang == "vi" else en for msgs in empty.errors.values() for vi, en in msgs]
    assert len(shown) == 4  # method, quantity, the day, how it was supplied
    for words in shown:
        assert not re.search(r"\([a-z_]+\)|[a-z]_[a-z]", words), words


def test_pulls_keep_the_villages_up_to_date(tmp_path: Path) -> None:
    core = phone(tmp_path)
    assert core.villages == []
    with core.store.transaction():
        core.apply_page({"changes": [], "verdicts": [], "cursor": 0, "more": False,
                         "server_hlc": 0, "place": {"villages": [
                             {"code": "12619.02", "name": "Thôn Đoài"}, {"code": 7},
                             {"code": "12619.01", "name": "Thôn Đông"}]}})
    assert [v["name"] for v in core.villages] == ["Thôn Đoài", "Thôn Đông"]  # the bad one left
    core.lock()
    core.unlock("482916")
    assert [v["code"] for v in core.villages] == ["12619.02", "12619.01"]
