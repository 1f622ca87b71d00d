"""Persons refolded after the batch's commit (issue 19). No Flask.

An event changes the state of the person it is about (their method, children,
residence…), which the register keeps folded in the member's row
(:mod:`a0core.projection`). Refolding meant, in every batch, reading the person's
events and writing their wide row once more (13 indexes): a fifth of a monthly batch
on PostgreSQL, while every device of the province waited. A batch now refolds with
its writes only the persons it creates or edits and those whose household an event
changes (a household's deletion reads who lives there); the others are queued in the
batch's transaction (:class:`~server.models.sync.FollowUp`, kind :data:`QUEUE`) and
refolded by the follow-up work, many batches' persons at once, seconds later.

Exactly once in effect: a refold is a fold of what is stored, so doing it twice
changes nothing, and a batch that adds an event after a drain read a person's events
queues that person again. A person is written only if the fold changes their row,
under the province's change numbers, as a batch writes it (and only as read: a batch
that wrote the row meanwhile makes the refold start again). The roll-ups read these
columns, so the months the refolded persons' batches touched are given to the
after-batch hooks again, after the refold (the roll-up work queued by the batch
itself may have run first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from server.models.base import chunks
from server.models.pipeline import deferring, send_queued
from server.models.register import Member
from server.sync.applier import Touched
from server.sync.followups import Handler, Queued, gathered
from server.sync.workset import Sequencer, StaleRead, Workset, stale

QUEUE = "refold"  # the follow-up kind
ATTEMPTS = 8  # a refold whose rows another batch wrote meanwhile starts again


def payload(members: set[str], months: set[tuple[str, str]]) -> dict[str, Any]:
    """What a batch queues: the persons to refold, and the months its facts changed
    (for the roll-ups, once they are refolded)."""
    return {"members": sorted(members), "months": sorted(months)}


def drainer(hooks: Callable[[], Sequence[Callable[[Session, Touched], None]]]) -> Handler:
    """The follow-up handler; ``hooks``: the app's after-batch hooks, called for the
    months of the persons whose row changed."""

    def drain(session: Session, rows: list[Queued]) -> None:
        members: set[str] = set()
        months: set[tuple[str, str]] = set()
        for row in rows:
            members.update(row.payload.get("members", ()))
            months.update((area, month) for area, month in row.payload.get("months", ()))
        areas = refold(session, members)
        touched = Touched(months={(a, m) for a, m in months if a in areas}, events=areas)
        if touched.months:
            with gathered(session):
                for hook in hooks():
                    hook(session, touched)
    return drain


def refold(session: Session, members: set[str]) -> set[str]:
    """Refold ``members`` and write those whose row changes, in the caller's transaction;
    return their areas."""
    by_province: dict[str, set[str]] = {}
    for chunk in chunks(sorted(members)):  # where each is now (a reform may move an area)
        for member_id, province in session.execute(
                select(Member.id, Member.province_code).where(Member.id.in_(chunk))):
            by_province.setdefault(province, set()).add(member_id)
    areas: set[str] = set()
    for province in sorted(by_province):  # the counters in one order: no deadlock
        areas |= _refold_province(session, province, by_province[province])
    return areas


def _refold_province(session: Session, province: str, members: set[str]) -> set[str]:
    for _ in range(ATTEMPTS - 1):
        try:
            return _refold_once(session, province, members)
        except (StaleRead, DatabaseError) as error:  # a batch wrote a row meanwhile: again
            if not stale(error):
                raise
    return _refold_once(session, province, members)


def _refold_once(session: Session, province: str, members: set[str]) -> set[str]:
    """One attempt, in a savepoint (undone whole if a row changed meanwhile). PostgreSQL:
    the rows are written with their numbers after the province's counter is taken, as
    a batch writes them (:meth:`Sequencer.holds`): batches, reviews and merges all
    take the counter before the register's rows, so none waits for a row another
    holds while holding the counter that one waits for."""
    with deferring(session), session.begin_nested():
        sequencer = Sequencer(session, province,
                              deferred=session.get_bind().dialect.name == "postgresql")
        ws = Workset(session, sequencer)
        written = ws.refold_now(members)
        if written:  # else no number to take: the province's counter is left alone
            sequencer.settle()
            send_queued(session)  # a row written meanwhile fails here, in the savepoint
        return {ws.rows["member"][i]["area_code"] for i in written}  # type: ignore[index]
