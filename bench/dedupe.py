"""Precision and recall of duplicate detection: a labelled synthetic commune and the
hand-written pairs.

* **Generator set**: :func:`server.synthetic.duplicates.labelled_set` (a real
  commune's synthetic register with households and persons registered twice,
  clerical errors, namesakes, twins, fathers and sons of one name), loaded into a
  fresh SQLite database with the bulk loader; the real detection runs over the
  whole commune (:func:`server.sync.duplicates.detect.scan_commune`, what ``a0sync
  duplicates scan`` runs) and the review queue
  is compared with the truth, for member pairs and household pairs.
* **Hand-written set**: the pairs of ``tests/data/duplicates_vi/`` (written by
  people, not drawn from any generator; :mod:`bench.handset`), each in a commune of
  its own, through the same detection.

Weights and thresholds were chosen on splits that are never scored: the
generator's seed 11 and the hand-written ``dev.txt`` (``--sweep`` shows what
tuning looked at). The figures reported are the generator's seed 2 and the
hand-written ``test.txt``.

    .venv/bin/python bench/dedupe.py --json
    .venv/bin/python bench/dedupe.py --seed 11 --sweep     # what tuning looked at
    .venv/bin/python bench/dedupe.py --households 5200 --json   # a 20,000-person commune

With ``--json`` the last line is {"precision": p, "recall": r, "pairs": n, ...}:
member-pair precision and recall of the generator set at the default threshold, n
its number of true duplicate pairs; household figures follow, then
``hand_precision``/``hand_recall`` (and ``hand_pairs``, ``hand_duplicates``) on the
scored hand-written split, then the work done on the generator set:
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

from bench import handset
from server import create_app
from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.register.bulk import Writer, load_area
from server.sync.duplicates.detect import scan_commune
from server.sync.duplicates.scoring import Thresholds
from server.synthetic.duplicates import labelled_set

BENCH_SEED = 2
TUNING_SEED = 11
SWEEP = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def _pr(found: set, truth: set) -> tuple[float, float]:
    hits = len(found & truth)
    return (hits / len(found) if found else 1.0), (hits / len(truth) if truth else 1.0)


def _app(tmp: str):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/dedupe.sqlite",
                      "INSTANCE_PATH": tmp})
    with app.app_context():
        db.create_all()
    return app


def evaluate(seed: int, households: int, low: float) -> dict:
    """Detect with thresholds ``low`` on the labelled set; return scored pairs and the truth."""
    labelled = labelled_set(seed, households=households)
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(tmp)
        with app.app_context():
            writer = Writer("bench", 1)
            for area in labelled.areas:
                load_area(db.session, area, "33", labelled.commune_code, writer)
            db.session.commit()
            started = time.perf_counter()
            result = scan_commune(db.session, labelled.commune_code,
                                  Thresholds(member=low, household=low))
            db.session.commit()
            seconds = time.perf_counter() - started
            rows = list(db.session.scalars(select(DuplicateCandidate)))
            found = {(c.kind, c.a_id, c.b_id): c.score for c in rows}
            db.engine.dispose()
    return {"labelled": labelled, "found": found, "seconds": seconds,
            "members": result.members_scored, "pairs_blocked": result.pairs_blocked,
            "pairs_scored": result.pairs_scored}


def evaluate_hand(path: Path) -> list:
    """Each hand-written pair of ``path`` with its score and reasons."""
    pairs = handset.read(path)
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(tmp)
        with app.app_context():
            scored = handset.evaluate(db.session, pairs)
            db.session.rollback()
            db.engine.dispose()
    return scored


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


def hand_figures(scored: list, threshold: float, prefix: str = "hand") -> dict:
    p, r = handset.precision_recall(scored, threshold)
    return {f"{prefix}_precision": round(p, 4), f"{prefix}_recall": round(r, 4),
            f"{prefix}_pairs": len(scored),
            f"{prefix}_duplicates": sum(pair.duplicate for pair, _, _ in scored)}


def _sweep(run: dict, hand: list, t: Thresholds) -> None:
    """What tuning looks at: figures at several thresholds, then the pairs it got wrong."""
    for x in SWEEP:
        print(x, json.dumps({**figures(run, x, x), **hand_figures(hand, x, "dev")}))
    labelled = run["labelled"]
    members = {m["id"]: m for m in labelled.members()}
    shown = {(a, b) for (k, a, b), s in run["found"].items() if k == "member" and s >= t.member}
    for a, b in sorted(labelled.member_pairs - shown)[:40]:
        print("missed", run["found"].get(("member", a, b)), members[a]["full_name"],
              members[a]["birth_date"], "|", members[b]["full_name"], members[b]["birth_date"])
    for a, b in sorted(shown - labelled.member_pairs)[:40]:
        print("wrong", run["found"][("member", a, b)], members[a]["full_name"],
              members[a]["birth_date"], members[a]["household_id"][:6], "|",
              members[b]["full_name"], members[b]["birth_date"], members[b]["household_id"][:6])
    for pair, score, reasons in hand:
        if pair.duplicate != (score >= t.member):
            print("dev", "missed" if pair.duplicate else "wrong", score, f"line {pair.line}:",
                  pair.a.full_name, pair.a.birth_date, "|", pair.b.full_name, pair.b.birth_date,
                  "|", pair.reason, "|", json.dumps(reasons, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=BENCH_SEED)
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--sweep", action="store_true",
                        help="figures at several thresholds, on the tuning splits")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)
    t = Thresholds()
    run = evaluate(args.seed, args.households, 0.3 if args.sweep else min(t.member, t.household))
    if args.sweep:
        _sweep(run, evaluate_hand(handset.TUNING), t)
    hand = evaluate_hand(handset.SCORED)
    out = {**figures(run, t.member, t.household), "threshold": t.member,
           "household_threshold": t.household, **hand_figures(hand, t.member),
           "seed": args.seed, "persons": run["members"], "pairs_blocked": run["pairs_blocked"],
           "pairs_scored": run["pairs_scored"], "detect_s": round(run["seconds"], 3)}
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
