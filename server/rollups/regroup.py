"""Roll the stored area cells up again under another tree (a reform, or its undo).

An area's cell counts only its own register: moving the area to another village,
commune or province changes none of its figures, only the units they add into.
So after a reform the roll-ups of every past month need no recompute from the
register: :func:`regroup` reads the area cells of the tree the areas left, adds
them up along their chains in the new tree (:func:`server.rollups.store.aggregate`)
and replaces the new tree's cells — in the caller's transaction, so the figures
move with the register, at once. An area with no stored cell (the register
holds data the old tree had no cells for) is computed from the register, as a
full recompute would. Months the old tree had no cells for are left to
:func:`server.rollups.jobs.full_recompute`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_AREA
from server.models.rollups import RollupCell
from server.rollups import store
from server.rollups.compute import Cells, compute_areas


def stored_area_cells(session: Session, tree: str) -> tuple[list[str], Cells]:
    """The months of ``tree``'s cells, and its area cells: area → month → counts."""
    months = sorted(set(session.scalars(select(RollupCell.month).distinct().where(
        RollupCell.tree == tree, RollupCell.level == store.NATIONAL_LEVEL))))
    cells: Cells = defaultdict(lambda: defaultdict(dict))
    for area, month, values in session.execute(
            select(RollupCell.unit_code, RollupCell.month, RollupCell.values)
            .where(RollupCell.tree == tree, RollupCell.level == LEVEL_AREA)):
        cells[area][month] = values or {}
    return months, cells


def regroup(session: Session, from_tree: str, to_tree: str) -> dict[str, Any]:
    """Replace ``to_tree``'s cells by ``from_tree``'s area cells added up under
    ``to_tree``, and drop ``from_tree``'s cells. Returns the months and cells written."""
    from server.rollups.jobs import _complete, take_table  # one definition of each

    take_table(session)  # a batch's after-batch hook waits, then adds to the new tree
    months, cells = stored_area_cells(session, from_tree)
    session.execute(delete(RollupCell).where(RollupCell.tree == from_tree))
    if not months:
        return {"tree": to_tree, "months": [], "areas": 0, "cells": 0}
    areas = store.expected_areas(session, to_tree) | set(cells)
    missing = sorted(a for a in areas if any(m not in cells.get(a, {}) for m in months))
    if missing:  # as a full recompute would count them
        for area, by_month in compute_areas(session, months, missing).items():
            cells[area] = by_month
    _complete(session, cells, areas, months)
    chains = store.ancestry(session, to_tree, areas)
    written = store.replace_all(session, to_tree, months, store.aggregate(cells, chains))
    return {"tree": to_tree, "months": months, "areas": len(areas), "cells": written}
