"""moto's SQS, made to scale with the batch rather than the queue while the lab runs.

moto 5.2.1 checks each message it hands out against the queue's retention period by computing *every* queue
attribute, two of which count all messages in the queue: a receive from a queue of n messages costs O(n) per
message returned. The lab's pollers and checks receive often, so notebooks with a few hundred messages
spent seconds here. Same rule (a message older than MessageRetentionPeriod is not delivered), read directly.
"""

from __future__ import annotations

from moto.core.utils import unix_time
from moto.sqs.models import SQSBackend

__all__ = ["PATCHES"]


def _within_retention(self, queue_name: str, message) -> bool:
    retention_s = int(self.get_queue(queue_name).message_retention_period)
    return retention_s + message.sent_timestamp / 1000 > unix_time()


PATCHES = {(SQSBackend, "is_message_valid_based_on_retention_period"): _within_retention}
