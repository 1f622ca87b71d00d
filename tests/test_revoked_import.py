"""A revoked device's carried batches (issue 18, item 7): an administrator may import a
file sealed before the revocation, explicitly and audited, on the command line and on
the dashboard; anything sealed after stays refused; a revocation can be reversed."""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from server.extensions import db
from server.models.people import AuditLog, Device
from server.models.register import Household
from tests.support.register import household, new_id
from tests.support.web import Browser, build_world


def actions(actor: str) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditLog.action).where(AuditLog.actor_id == actor)
                                   .order_by(AuditLog.id)))


def test_batches_of_a_revoked_device(app: Flask, tmp_path: Path) -> None:
    world = build_world(app)
    device = world.devices["C"]
    first, second, late = new_id(), new_id(), new_id()
    carried = {}
    for name, hid in (("first", first), ("second", second)):
        carried[name] = tmp_path / f"{name}.a0b"
        carried[name].write_bytes(device.seal([device.upsert(
            "household", hid, household(device.area, "88"))]))
    time.sleep(0.02)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["devices", "revoke", device.id]).exit_code == 0
    time.sleep(0.02)
    carried["late"] = tmp_path / "late.a0b"  # the phone kept writing after it was revoked
    carried["late"].write_bytes(device.seal([device.upsert(
        "household", late, household(device.area, "89"))]))

    refused = runner.invoke(args=["import-batch", str(carried["first"])])
    assert refused.exit_code == 2 and "device_revoked" in refused.output
    officer = Browser(app)
    officer.login("canboxa")  # commune staff import files, but may not override
    with carried["first"].open("rb") as upload:
        forbidden = officer.post("/dashboard/import", {"batch": (upload, "first.a0b"),
                                                       "accept_revoked": "1"})
    assert forbidden.status_code == 403
    admin = Browser(app)
    admin.login("quantri")
    assert 'id="accept-revoked"' in admin.get("/dashboard/import").get_data(as_text=True)
    assert 'id="accept-revoked"' not in officer.get("/dashboard/import").get_data(as_text=True)
    with carried["first"].open("rb") as upload:
        plain = admin.post("/dashboard/import", {"batch": (upload, "first.a0b")})
    assert plain.status_code == 403 and "device_revoked" in plain.get_data(as_text=True)
    assert db.session.get(Household, first) is None

    with carried["first"].open("rb") as upload:
        taken = admin.post("/dashboard/import", {"batch": (upload, "first.a0b"),
                                                 "accept_revoked": "1"})
    assert taken.status_code == 200, taken.get_data(as_text=True)
    assert db.session.get(Household, first) is not None
    assert actions("quantri")[-1] == "batch.import_revoked"
    cli = runner.invoke(args=["import-batch", "--accept-revoked", str(carried["second"]),
                              str(carried["late"])])
    assert cli.exit_code == 2, cli.output
    assert '"applied": 1' in cli.output and "batch_sealed_after_revocation" in cli.output
    db.session.expire_all()
    assert db.session.get(Household, second) is not None
    assert db.session.get(Household, late) is None
    assert actions("cli")[-2:] == ["device.revoke", "batch.import_revoked"]

    # found again: reinstated, the phone sends what it wrote meanwhile over the network
    assert admin.post(f"/dashboard/devices/{device.id}/reinstate").status_code == 302
    assert db.session.get(Device, device.id).revoked_at is None
    assert actions("quantri")[-1] == "device.reinstate"
    sent = device.send(app.test_client(), carried["late"].read_bytes())
    assert sent["receipt"]["verdicts"][0]["verdict"] == "applied"
    assert db.session.get(Household, late) is not None
