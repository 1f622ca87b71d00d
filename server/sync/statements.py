"""The SQL of a batch's ingestion, built once per database kind, run with bound values.

The look-ups by lists of ids are planned anew at each run on PostgreSQL
(:func:`~server.models.base.custom_plan`): their tables grow with every batch.

A batch runs about twenty statements, and for the village-sized batches of the
steady state, building each statement anew (SQLAlchemy's expression objects and
their cache keys) cost more than the database took to run it. So every one is
built once here, with named parameters, for the dialect of the session's engine,
from the tables' columns (plain Core: the session runs them without the ORM's
per-statement set-up, about a third of the Python time of a short look-up).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, case, func, literal, null, select, text, union_all, update
from sqlalchemy.orm import Session

from server.models.base import custom_plan, id_list, in_param, list_param
from server.models.logistics import StockMovement
from server.models.people import Device
from server.models.register import Distribution, Event, Household, Member
from server.models.reports import P0Report
from server.models.sync import WAITING_ONLY, Alias, Conflict, DeviceSync, SyncBatch, SyncOp

MODELS = {"household": Household, "member": Member, "event": Event,
          "distribution": Distribution, "p0_report": P0Report, "stock_movement": StockMovement}


@dataclass(frozen=True)
class Statements:
    dialect: str
    sender: Select          # :device — and the device's sequence state (None: no row)
    seen: Any               # :batch, :device, :first, :last
    rows_by_id: dict[str, Select]  # kind -> :ids
    aliases: Select         # :ids
    waiting_for: Select     # :ids — waiting operations of any device, by what they wait on
    facts_of: Any           # :ids — (mother, member_id, event_ref…): see below
    deaths_of: Select       # :ids — not voided
    seqs_above: Select      # :device, :above
    device_state: Select    # :device
    # b_device, b_contiguous, b_max (as read), the columns to set (:data:`STATE_COLUMNS`);
    # PostgreSQL: fails in the database (``a0_assert``, ``stale``) if it wrote no row
    device_state_update: Any
    open_conflicts: Select  # :ids — open conflicts of these entities
    still_read: Any         # :ids_<kind>, :ids_alias, :device — (kind, id, seq, survivor)

    def still_read_of(self, kinds: Iterable[str]) -> Any:
        """:attr:`still_read` for the tables of ``kinds`` only (with the aliases and the
        device)."""
        wanted = set(kinds)
        return _still_read(self.dialect, tuple(k for k in MODELS if k in wanted))

    def ids(self, values: Iterable[str]) -> dict[str, Any]:
        """The parameters of a look-up by ``:ids``."""
        return {"ids": id_list(self.dialect, values)}


def statements(session: Session) -> Statements:
    return _build(session.get_bind().dialect.name)


@functools.cache
def _build(dialect: str) -> Statements:
    def ids_in(column: Any) -> Any:
        return in_param(column, dialect, list_param("ids", column, dialect))

    ev, dv, st = Event.__table__.c, Device.__table__.c, DeviceSync.__table__.c
    op, al, mb = SyncOp.__table__.c, Alias.__table__.c, Member.__table__.c
    event_ref = (ev.id, ev.member_id, ev.form, ev.payload, ev.hlc, ev.device_id)
    device = bindparam("device")
    own_ids, mother_ids = (_id_rows("ids", mb.id, dialect, n) for n in ("own", "mothers"))
    return Statements(
        dialect=dialect,
        sender=select(dv.revoked_at, dv.id, dv.sign_public_key, dv.area_code,
                      dv.commune_code, dv.province_code, st.device_id.label("has_state"),
                      st.highest_contiguous_seq, st.max_seq, st.last_clock_skew_ms,
                      st.last_hlc)
        .select_from(Device.__table__.outerjoin(DeviceSync.__table__,
                                                st.device_id == dv.id))
        .where(dv.id == device),
        # both at once, for a batch under its lock: (body_hash, receipt) of the batch id
        # if known, and (seq, op_hash) of each of its operations stored already
        seen=custom_plan(union_all(
            select(SyncBatch.__table__.c.body_hash, SyncBatch.__table__.c.receipt,
                   null().label("seq"), null().label("op_hash"))
            .where(SyncBatch.__table__.c.id == bindparam("batch")),
            select(null(), null(), op.seq, op.op_hash).where(
                op.device_id == device,
                op.seq.between(bindparam("first"), bindparam("last"))))),
        rows_by_id={kind: custom_plan(select(model.__table__).where(
            ids_in(model.__table__.c.id))) for kind, model in MODELS.items()},
        aliases=select(al.old_id, al.survivor_id).where(ids_in(al.old_id), al.active),
        waiting_for=custom_plan(select(op.waiting_on, op.payload, op.device_id, op.area_code,
                                       op.commune_code, op.province_code)
                                .where(WAITING_ONLY, ids_in(op.waiting_on))),
        # what a refold reads, in one statement: the events of these members (mother
        # NULL) and the deaths of their children (mother: whose child)
        facts_of=custom_plan(union_all(
            select(null().label("mother"), *event_ref)
            .select_from(own_ids.join(Event.__table__, ev.member_id == own_ids.c.value))
            .where(~ev.voided),
            select(mb.mother_id, *event_ref)
            .select_from(mother_ids.join(Member.__table__, mb.mother_id == mother_ids.c.value)
                         .join(Event.__table__, ev.member_id == mb.id))
            .where(ev.form == "death", ~ev.voided))),
        deaths_of=custom_plan(select(*event_ref).where(ids_in(ev.member_id),
                                                       ev.form == "death", ~ev.voided)),
        seqs_above=select(op.seq).where(op.device_id == device, op.seq > bindparam("above"))
        .order_by(op.seq),
        device_state=select(st.highest_contiguous_seq, st.max_seq, st.last_clock_skew_ms,
                            st.last_hlc).where(st.device_id == device),
        device_state_update=_device_state_update(dialect),
        open_conflicts=select(Conflict.__table__).where(
            in_param(Conflict.__table__.c.entity_id, dialect,
                     list_param("ids", Conflict.__table__.c.entity_id, dialect)),
            Conflict.__table__.c.status == "open"),
        still_read=_still_read(dialect),
    )


STATE_COLUMNS = ("highest_contiguous_seq", "max_seq", "gaps", "last_batch_at",
                 "last_clock_skew_ms", "last_hlc")


def _device_state_update(dialect: str) -> Any:
    """The device's sequence state, written only as it was read (else another batch of the
    device wrote it since). PostgreSQL: a statement that fails in the database if it
    wrote nothing, so the check needs no answer before the commit (see
    :func:`unchanged`)."""
    st = DeviceSync.__table__.c
    stmt = update(DeviceSync.__table__).where(
        st.device_id == bindparam("b_device"),
        st.highest_contiguous_seq == bindparam("b_contiguous"),
        st.max_seq == bindparam("b_max"))
    if dialect != "postgresql":
        return stmt
    written = (stmt.values({c: bindparam(c, type_=st[c].type) for c in STATE_COLUMNS})
               .returning(st.device_id).cte("written"))
    return select(func.a0_assert(
        select(func.count()).select_from(written).scalar_subquery() == 1, "stale"))


@functools.cache
def unchanged(kinds: tuple[str, ...]) -> Any:
    """PostgreSQL: a statement that fails in the database (``a0_assert``, ``stale``)
    unless every row a batch read and did not write is as it was read — for each of
    ``kinds``, ``:ids_<kind>`` with ``:seqs_<kind>``, their change numbers (NULL: it
    was missing) —, the aliases of ``:alias_ids`` are still ``:alias_survivors``
    (NULL: none), and the batch's ``:device`` is still in ``:province`` and
    ``:commune`` and not revoked (unless ``:revoked_ok``): :meth:`Workset.validate`
    as a check that needs no answer, for the batch's last round trip, with its
    COMMIT. Run after the settle step, it sees every batch committed before."""
    parts = [f"""NOT EXISTS (SELECT 1 FROM unnest(CAST(:ids_{kind} AS varchar[]),
                 CAST(:seqs_{kind} AS bigint[])) AS r(id, seq)
             LEFT JOIN {MODELS[kind].__tablename__} t ON t.id = r.id
             WHERE t.seq IS DISTINCT FROM r.seq)""" for kind in kinds]
    parts.append("""NOT EXISTS (SELECT 1 FROM unnest(CAST(:alias_ids AS varchar[]),
                 CAST(:alias_survivors AS varchar[])) AS r(id, survivor)
             LEFT JOIN alias a ON a.old_id = r.id AND a.active
             WHERE a.survivor_id IS DISTINCT FROM r.survivor)""")
    parts.append("""EXISTS (SELECT 1 FROM device d WHERE d.id = :device
             AND d.province_code = :province AND d.commune_code = :commune
             AND (d.revoked_at IS NULL OR :revoked_ok))""")
    return custom_plan(text(f"SELECT a0_assert({' AND '.join(parts)}, 'stale')"))


def _id_rows(name: str, column: Any, dialect: str, alias: str | None = None) -> Any:
    """The list parameter ``name`` as a table of ``value`` rows, to join on: PostgreSQL
    plans that as a few index look-ups even in the generic plan of a prepared statement
    (an ``= ANY(:ids)`` in a union of tables came to a sequential scan each)."""
    param = list_param(name, column, dialect)
    alias = alias or f"{name}_rows"
    if dialect == "postgresql":  # unnest(…) AS alias(value)
        return func.unnest(param).table_valued("value").render_derived(name=alias)
    return func.json_each(param).table_valued("value").alias(alias)  # its own column


@functools.cache
def _still_read(dialect: str, kinds: tuple[str, ...] = tuple(MODELS)) -> Any:
    """Which of these ids exist, by kind, with their change numbers, and the aliases of
    these ids, in one statement (one round trip): what a batch is about to read
    (:meth:`Workset.prefetch_all`), or has read (:meth:`Workset.validate`). ``kinds``:
    only those tables (the others have no ids: PostgreSQL plans this statement at
    each run, every part of it)."""
    parts = []
    for kind in kinds:
        model = MODELS[kind]
        table = model.__table__
        ids = _id_rows(f"ids_{kind}", table.c.id, dialect)
        parts.append(select(literal(kind).label("kind"), table.c.id, table.c.seq,
                            null().label("survivor"))
                     .select_from(ids.join(table, table.c.id == ids.c.value)))
    alias = Alias.__table__
    ids = _id_rows("ids_alias", alias.c.old_id, dialect)
    parts.append(select(literal("alias"), alias.c.old_id, null(), alias.c.survivor_id)
                 .select_from(ids.join(alias, alias.c.old_id == ids.c.value))
                 .where(alias.c.active))
    # the batch's device as it is now (:device; None: no row), read in the same round
    # trip when the batch validates: ("device", province, revoked 0/1, commune)
    dv = Device.__table__.c
    parts.append(select(literal("device"), dv.province_code,
                        case((dv.revoked_at.is_(None), 0), else_=1), dv.commune_code)
                 .where(dv.id == bindparam("device")))
    return custom_plan(union_all(*parts))
