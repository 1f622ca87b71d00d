"""The sync status page's verdict counts equal the ledger, whatever arrived in what order.

The page counts only the operations that are not plainly applied and takes the
applied ones from the device's sequence state (``max_seq`` less its gaps), so that
it does not read every operation a device ever sent. Here devices send their
operations in batches that arrive in any order, some twice, some never, with
operations that apply, wait for a household that never came, or are refused — and
the counts must equal a plain ``GROUP BY`` over the ledger.
"""

from __future__ import annotations

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.extensions import db
from server.models.sync import VERDICTS, DeviceSync, SyncOp
from server.web.queries.sync_status import op_counts
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice

KINDS = ("applies", "waits", "refused", "elsewhere")


def _op(device: SimDevice, kind: str, home: str) -> dict:
    if kind == "applies":
        return device.upsert("household", new_id(), household(device.area))
    if kind == "waits":  # its household never arrives
        return device.upsert("member", new_id(), member(new_id()))
    if kind == "refused":
        return device.upsert("member", new_id(), {**member(home), "sex": "alien"})
    return device.upsert("household", new_id(), household("99999.01.1"))  # out of scope


def _ledger(device_id: str) -> dict[str, int]:
    exact = dict.fromkeys(VERDICTS, 0)
    exact.update(db.session.execute(select(SyncOp.status, func.count()).where(
        SyncOp.device_id == device_id).group_by(SyncOp.status)).all())
    return exact


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=14),
       size=st.integers(1, 4), data=st.data())
def test_verdict_counts_equal_the_ledger(app: Flask, kinds: list[str], size: int,
                                         data: st.DataObject) -> None:
    client = app.test_client()
    device = SimDevice(app)
    home = new_id()
    ops = [device.upsert("household", home, household(device.area))]
    ops += [_op(device, kind, home) for kind in kinds]
    batches = [ops[i:i + size] for i in range(0, len(ops), size)]
    sent = data.draw(st.lists(st.sampled_from(range(len(batches))), max_size=2 * len(batches)),
                     label="batches sent, in order (repeats are re-sends)")
    for index in sent:
        device.send(client, device.seal(batches[index]))
    db.session.expire_all()
    state = db.session.get(DeviceSync, device.id)
    assert op_counts(db.session, {device.id: state})[device.id] == _ledger(device.id)
