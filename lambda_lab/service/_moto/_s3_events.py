"""S3 to EventBridge: with `EventBridgeConfiguration` on a bucket, object events go to the default event bus.

moto sends its own approximation to every bus's rules (`reason` "ObjectCreated", `eTag`, a fixed event id).
The lab sends S3's documented shape, to the default bus of the bucket's region only, where matching rules
deliver it to their targets (functions through the lab's own EventBridge delivery).
"""

from __future__ import annotations

import secrets
import string
import uuid

from moto.events.models import events_backends
from moto.s3 import notifications as s3_notifications

from . import _state

# moto's event names -> S3's `reason`, and for deletions the `deletion-type`
_REASONS = {
    "s3:ObjectCreated:Put": ("Object Created", "PutObject", None),
    "s3:ObjectCreated:Post": ("Object Created", "POST Object", None),
    "s3:ObjectCreated:Copy": ("Object Created", "CopyObject", None),
    "s3:ObjectCreated:CompleteMultipartUpload": ("Object Created", "CompleteMultipartUpload", None),
    "s3:ObjectRemoved:Delete": ("Object Deleted", "DeleteObject", "Permanently Deleted"),
    "s3:ObjectRemoved:DeleteMarkerCreated": ("Object Deleted", "DeleteObject", "Delete Marker Created"),
}
_sequence = iter(range(1, 1 << 62))


def s3_event(account_id: str, event_name: str, bucket, key, now: float) -> dict | None:
    """The event S3 puts on the default bus for `event_name`, or None for events the lab leaves to moto."""
    if event_name not in _REASONS:
        return None
    from ._triggers import _iso

    detail_type, reason, deletion = _REASONS[event_name]
    obj = {"key": key.name}
    if deletion is None:
        obj.update(size=key.size, etag=key.etag.replace('"', ""))
    if bucket.is_versioned and getattr(key, "version_id", None):
        obj["version-id"] = key.version_id
    obj["sequencer"] = f"{(int(now * 1000) << 16 | next(_sequence) & 0xFFFF) & (1 << 64) - 1:016X}"  # 16 hex, growing
    detail = {"version": "0", "bucket": {"name": bucket.name}, "object": obj,
              "request-id": "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
              "requester": account_id, "source-ip-address": "127.0.0.1", "reason": reason}
    if deletion is not None:
        detail["deletion-type"] = deletion
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": "aws.s3",
            "account": account_id, "time": _iso(now, millis=False), "region": bucket.region_name,
            "resources": [f"arn:aws:s3:::{bucket.name}"], "detail": detail}


def _send_event_bridge_message(account_id: str, bucket, event_name: str, key) -> None:
    service = _state.service
    event = s3_event(account_id, event_name, bucket, key, service.clock.now()) if service is not None else None
    if event is None:
        return _state.originals[(s3_notifications, "_send_event_bridge_message")](account_id, bucket, event_name, key)
    bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
    for rule in list(bus.rules.values()) if bus is not None else []:
        if rule.state == "ENABLED" and rule.event_pattern.get_pattern() and rule.event_pattern.matches_event(event):
            rule.send_to_targets(event, transform_input=False)


PATCHES = {(s3_notifications, "_send_event_bridge_message"): _send_event_bridge_message}
