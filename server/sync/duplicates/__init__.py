"""Duplicate households and persons (DESIGN §4): detection, review queue, merge and undo.

* :mod:`.scoring` — blocking keys and scores, pure Python;
* :mod:`.detect` — keeps the review queue (``duplicate_candidate``) up to date for
  the records a batch touched; registered as an after-batch hook by :func:`init_app`;
* :mod:`.review` — the domain API for reviewers: list, side-by-side view, merge,
  reject, undo (no Flask; scope from :mod:`server.security.scope`).
"""

from __future__ import annotations

from typing import Any

CONFIG_MEMBER = "A0SYNC_DUPLICATE_MEMBER_THRESHOLD"
CONFIG_HOUSEHOLD = "A0SYNC_DUPLICATE_HOUSEHOLD_THRESHOLD"
EXTENSION = "a0sync.duplicates.thresholds"
QUEUE = "duplicates"  # the follow-up kind
# what scoring reads (server.sync.duplicates.scoring): a batch that wrote only other
# fields (an education, a marital status) cannot make or unmake a candidate
SCORED_FIELDS = {
    "member": frozenset({"full_name", "sex", "birth_date", "ethnicity", "bhyt_number",
                         "id_number", "household_id"}),
    "household": frozenset({"number", "address"}),
}


def thresholds_for(app: Any):
    from server.sync.duplicates.scoring import Thresholds

    return app.extensions.get(EXTENSION) or Thresholds()


def init_app(app: Any) -> None:
    """Detect candidates after every batch (queued, done after its commit:
    :mod:`server.sync.followups`); add ``a0sync duplicates`` to the CLI."""
    from server.sync.applier import Touched
    from server.sync.duplicates.cli import duplicates_cli
    from server.sync.duplicates.scoring import Thresholds
    from server.sync.runtime import add_after_batch_hook, followups_for

    defaults = Thresholds()
    thresholds = Thresholds(
        member=float(app.config.get(CONFIG_MEMBER, defaults.member)),
        household=float(app.config.get(CONFIG_HOUSEHOLD, defaults.household)))
    app.extensions[EXTENSION] = thresholds
    queue = followups_for(app)

    def after_batch(session: Any, touched: Touched) -> None:
        members = sorted(touched.changed("member", SCORED_FIELDS["member"]))
        households = sorted(touched.changed("household", SCORED_FIELDS["household"]))
        if members or households:
            place = touched.place
            queue.enqueue(session, QUEUE, {"members": members, "households": households},
                          province_code=place.province_code if place else "",
                          commune_code=place.commune_code if place else "")

    def drain(session: Any, rows: list[Any]) -> None:
        """Re-score what the queued batches touched, each commune under its own lock (two
        drains of one commune would find the same new pairs)."""
        from server.sync.duplicates.detect import detect
        from server.sync.locks import hold

        hold(session, *(f"duplicates:{row.commune_code}" for row in rows))
        members = {m for row in rows for m in row.payload.get("members", ())}
        households = {h for row in rows for h in row.payload.get("households", ())}
        detect(session, members, households, thresholds)

    queue.handle(QUEUE, drain)
    add_after_batch_hook(app, after_batch)
    app.cli.add_command(duplicates_cli)
