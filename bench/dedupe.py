"""Precision and recall of duplicate detection on a labelled synthetic commune.

Builds :func:`server.synthetic.duplicates.labelled_set` (a real commune's synthetic
register with households and persons registered twice, clerical errors and
namesakes), loads it into a fresh SQLite database with the bulk loader, runs the
real detection over the whole commune (:func:`server.sync.duplicates.detect.detect`)
and compares the review queue with the truth, for member pairs and household pairs.

The scorer's weights and thresholds were tuned on seed 11 (``--seed 11
--sweep``); the figures reported use seed 2, which tuning never saw.

    .venv/bin/python bench/dedupe.py --json
    .venv/bin/python bench/dedupe.py --seed 11 --sweep     # what tuning looked at
    .venv/bin/python bench/dedupe.py --households 5200 --json   # a 20,000-person commune

With ``--json`` the last line is {"precision": p, "recall": r, "pairs": n, ...}:
member-pair precision and recall at the default threshold, n the number of true
duplicate pairs; household figures follow as extra keys, then the work done:
``pairs_blocked`` (pairs sharing a block), ``pairs_scored`` (of those, the ones
that could reach a threshold) and ``detect_s``, the seconds of the whole-commune
detection (what ``a0sync duplicates scan`` runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from server import create_app
from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.register import Household
from server.register.bulk import Writer, load_area
from server.sync.duplicates.detect import detect
from server.sync.duplicates.scoring import Thresholds
from server.synthetic.duplicates import labelled_set

BENCH_SEED = 2
TUNING_SEED = 11


def _pr(found: set, truth: set) -> tuple[float, float]:
    hits = len(found & truth)
    return (hits / len(found) if found else 1.0), (hits / len(truth) if truth else 1.0)


def evaluate(seed: int, households: int, low: float) -> dict:
    """Detect with thresholds ``low`` on the labelled set; return scored pairs and the truth."""
    labelled = labelled_set(seed, households=households)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/dedupe.sqlite",
                          "INSTANCE_PATH": tmp})
        with app.app_context():
            db.create_all()
            writer = Writer("bench", 1)
            for area in labelled.areas:
                load_area(db.session, area, "33", labelled.commune_code, writer)
            db.session.commit()
            ids = list(db.session.scalars(select(Household.id)))
            started = time.perf_counter()
            result = detect(db.session, [], ids, Thresholds(member=low, household=low))
            db.session.commit()
            seconds = time.perf_counter() - started
            rows = list(db.session.scalars(select(DuplicateCandidate)))
            found = {(c.kind, c.a_id, c.b_id): c.score for c in rows}
            reasons = {(c.kind, c.a_id, c.b_id): c.reasons for c in rows}
            db.engine.dispose()
    return {"labelled": labelled, "found": found, "reasons": reasons, "seconds": seconds,
            "members": result.members_scored, "pairs_blocked": result.pairs_blocked,
            "pairs_scored": result.pairs_scored}


def figures(run: dict, member_t: float, household_t: float) -> dict:
    labelled = run["labelled"]
    m = {(a, b) for (k, a, b), s in run["found"].items() if k == "member" and s >= member_t}
    h = {(a, b) for (k, a, b), s in run["found"].items() if k == "household" and s >= household_t}
    mp, mr = _pr(m, labelled.member_pairs)
    hp, hr = _pr(h, labelled.household_pairs)
    return {"precision": round(mp, 4), "recall": round(mr, 4),
            "pairs": len(labelled.member_pairs), "candidates": len(m),
            "household_precision": round(hp, 4), "household_recall": round(hr, 4),
            "household_pairs": len(labelled.household_pairs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=BENCH_SEED)
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--sweep", action="store_true", help="figures at several thresholds")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)
    t = Thresholds()
    run = evaluate(args.seed, args.households, 0.3 if args.sweep else min(t.member, t.household))
    if args.sweep:
        for x in (0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
            print(x, json.dumps(figures(run, x, x)))
        labelled = run["labelled"]
        members = {m["id"]: m for m in labelled.members()}
        shown = {(a, b) for (k, a, b), s in run["found"].items()
                 if k == "member" and s >= t.member}
        for a, b in sorted(labelled.member_pairs - shown)[:40]:
            s = run["found"].get(("member", a, b))
            print("missed", s, members[a]["full_name"], members[a]["birth_date"], "|",
                  members[b]["full_name"], members[b]["birth_date"])
        for a, b in sorted(shown - labelled.member_pairs)[:40]:
            print("wrong", run["found"][("member", a, b)], members[a]["full_name"],
                  members[a]["birth_date"], members[a]["household_id"][:6], "|",
                  members[b]["full_name"], members[b]["birth_date"], members[b]["household_id"][:6])
    out = {**figures(run, t.member, t.household), "threshold": t.member,
           "household_threshold": t.household, "seed": args.seed,
           "persons": run["members"], "pairs_blocked": run["pairs_blocked"],
           "pairs_scored": run["pairs_scored"],
           "detect_s": round(run["seconds"], 3)}
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
