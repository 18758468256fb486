"""The gateway's customTag on orders: how the app tells its own safety-net stops (rule 018) from the trader's."""

from __future__ import annotations

from deskguard.broker.parsing import parse_order
from deskguard.engine.models import SAFETY_NET_TAG


def test_the_gateway_tag_is_read_from_order_payloads():
    payload = {"id": 5, "accountId": 1001, "contractId": "CON.F.US.MNQ.Z26", "status": 1, "type": 4, "side": 1,
               "size": 1, "stopPrice": 20750.0, "customTag": f"{SAFETY_NET_TAG}-abc"}
    assert parse_order(payload).tag == f"{SAFETY_NET_TAG}-abc"
    assert parse_order(payload).is_safety_net
    assert not parse_order({**payload, "customTag": None}).is_safety_net
    assert not parse_order({**payload, "customTag": "my-own-stop"}).is_safety_net
    assert parse_order({k: v for k, v in payload.items() if k != "customTag"}).tag is None
