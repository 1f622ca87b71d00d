"""The duplicate review queue (DESIGN §4): pairs of records that may be one person or household.

A pair is stored once, ``a_id < b_id``, whatever order it was found in, so the
queue cannot hold the same pair twice and detection can upsert it. ``a_seq`` and
``b_seq`` are the change sequences of the two records when they were last
scored: a reviewer's merge quotes them (:func:`version`), and a merge of a pair
whose records changed since the reviewer looked is refused as stale.

``merge`` holds what a merge did (survivor, loser, members moved) so that an
undo reverses exactly that and nothing done since.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow

OPEN, MERGED, REJECTED, UNDONE = "open", "merged", "rejected", "undone"
STATUSES = (OPEN, MERGED, REJECTED, UNDONE)
KINDS = ("household", "member")


class DuplicateCandidate(Base):
    __tablename__ = "duplicate_candidate"
    __table_args__ = (
        UniqueConstraint("kind", "a_id", "b_id"),
        # the review queue in its order (score, id; read backwards: most likely first)
        # for each scope that reviews it (national, commune: Scope ACTIONS["merge"]),
        # with and without kind, so a page — even a deep one — and the counts per kind
        # are index walks; both shapes are needed, or SQLite's planner (no statistics)
        # walks the national index for a commune (server/web/queries/duplicates.py)
        Index("ix_duplicate_candidate_queue", "status", "score", "id"),
        Index("ix_duplicate_candidate_queue_kind", "status", "kind", "score", "id"),
        Index("ix_duplicate_candidate_commune_queue", "commune_code", "status", "score", "id"),
        Index("ix_duplicate_candidate_commune_queue_kind", "commune_code", "status", "kind",
              "score", "id"),
        Index("ix_duplicate_candidate_a", "a_id"),
        Index("ix_duplicate_candidate_b", "b_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # household | member
    a_id: Mapped[str] = mapped_column(String(36))
    b_id: Mapped[str] = mapped_column(String(36))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=OPEN)
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))       # a's area (Scope.where)
    b_area_code: Mapped[str] = mapped_column(String(32))
    a_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    b_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    merge: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def version(candidate: DuplicateCandidate) -> str:
    """What a reviewer saw: the pair's record versions when the view was built."""
    return f"{candidate.a_seq}.{candidate.b_seq}"
