"""Checks for the exercises of notebook 14_event_sources."""

import json
import time
import uuid

import boto3

from . import function_config, log_streams, mappings_from, passed, queue_url, require, take_message

__all__ = ["ex_14_partial_batch", "ex_14_stream_settings"]

ON_AWS_WAIT_S = 420  # on AWS a failed message comes back after each visibility timeout, three times
LOCAL_WAIT_S = 30  # real seconds: generous on a busy machine; the lab needs a fraction of one


def _settle(wait_until, pending=lambda: False) -> None:
    """Let the lab fast-forward its pollers, or poll `wait_until()` on a real account until it holds.

    Locally, while `pending()` says a message is still on its way (a queue moves it to its DLQ only when it is
    received once more), poll again for a little while: the lab's poller reads a queue every quarter second.
    """
    from .. import Lab

    lab = Lab.current()
    if lab is not None and lab.backend == "local":
        deadline = time.monotonic() + LOCAL_WAIT_S
        while True:
            lab.wait_for_async()
            if wait_until() or not pending() or time.monotonic() > deadline:
                return
            time.sleep(0.25)
    deadline = time.monotonic() + ON_AWS_WAIT_S
    while not wait_until() and time.monotonic() < deadline:
        time.sleep(10)


def _quiet() -> None:
    """Locally, let every poll in progress finish first (on AWS a changed mapping also takes effect after a while)."""
    from .. import Lab

    lab = Lab.current()
    if lab is not None and lab.backend == "local":
        lab.wait_for_async()


def _log_count(function_name: str, text: str) -> int:
    """How many log lines of the function contain `text`."""
    return _lines_with(log_streams(f"/aws/lambda/{function_name}"), text)


def _lines_with(streams: list[list[str]], text: str) -> int:
    return sum(text in line for stream in streams for line in stream)


def _raised_after(streams: list[list[str]], text: str) -> bool:
    """Whether an invocation that logged `text` then ended in an unhandled error (the runtime's traceback)."""
    for stream in streams:
        seen = False
        for line in stream:
            if text in line:
                seen = True
            elif line.startswith("END RequestId"):
                seen = False
            elif seen and "Traceback (most recent call last)" in line:
                return True
    return False


# -- exercise 14.1: refunds that vanish ---------------------------------------------------------------

_DO_NOT_RAISE = ("Did you make the handler raise? Let it answer as it did and let the mapping act on that answer "
                 "(notebook 14, 'When one message in a batch fails' and 'Partial batch responses').")


def ex_14_partial_batch(function_name: str = "refunds", queue_name: str = "refunds") -> None:
    """A refund the handler reports as failed comes back and ends in the queue's DLQ; good refunds run once."""
    lam, sqs = boto3.client("lambda"), boto3.client("sqs")
    config = function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    url = queue_url(sqs, queue_name)
    require(url, f"There is no queue '{queue_name}': run the exercise's setup cell first.")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
    mappings = mappings_from(lam, function_name, attributes["QueueArn"])
    require(mappings, f"'{function_name}' has no event source mapping from the queue '{queue_name}' any more: the "
                      "exercise asks you to repair the mapping, not to replace how the refunds arrive.")
    require(len(mappings) == 1, f"The queue '{queue_name}' has {len(mappings)} mappings to '{function_name}'; keep "
                                "one (lam.delete_event_source_mapping), or every refund is polled twice.")
    mapping = mappings[0]
    require(mapping["State"] in ("Enabled", "Enabling", "Updating", "Creating"),
            f"The mapping from '{queue_name}' to '{function_name}' is {mapping['State']}: refunds wait in the "
            "queue. Enable it again.")
    require("RedrivePolicy" in attributes, f"The queue '{queue_name}' no longer has a redrive policy, so a refund "
                                           "that keeps failing has nowhere to go. Put its dead-letter queue back.")

    _quiet()  # a poll that began before the learner's last change would still act on the old settings
    tag = uuid.uuid4().hex[:8]
    good, bad = {"id": f"check-{tag}-ok", "account": "NL00BANK0123456789"}, {"id": f"check-{tag}-bad"}
    # one request, so a poller cannot take the first refund alone before the second is there (one batch for both)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": json.dumps(refund)}
                                                  for n, refund in enumerate((good, bad))])
    dlq_url = sqs.get_queue_url(QueueName=json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
                                .split(":")[-1])["QueueUrl"]
    found = {"bad": None}

    def arrived() -> bool:
        if found["bad"] is None:
            found["bad"] = take_message(sqs, dlq_url,
                                        lambda body: isinstance(body, dict) and body.get("id") == bad["id"])
        return found["bad"] is not None

    def in_queue() -> bool:
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return any(int(count) for count in counts.values())

    _settle(arrived, pending=in_queue)
    arrived()
    streams = log_streams(f"/aws/lambda/{function_name}")
    paid = _lines_with(streams, f"REFUNDED {good['id']}")  # one read of the logs for all three answers
    reported = _lines_with(streams, f"FAILED refund {bad['id']}")
    require(paid > 0, f"The check's good refund {good['id']} was never paid: is '{function_name}' still deployed "
                      "with the exercise's code, and is its mapping enabled?")
    require(paid == 1, f"The check's good refund {good['id']} was paid {paid} times: when one refund of a batch fails, "
                       "the whole batch comes back, good refunds included. " + _DO_NOT_RAISE)
    # a batch can also reach the handler split (SQS promises no grouping): the good refund alone is paid once, so
    # the raise shows in the failed refund's own invocation instead
    require(not _raised_after(streams, f"FAILED refund {bad['id']}"),
            f"The check's failed refund {bad['id']} made the handler raise: then the whole batch comes back, good "
            "refunds included, and they are paid again. " + _DO_NOT_RAISE)
    if found["bad"] is None:
        response_types = mapping.get("FunctionResponseTypes") or []
        dlq = (config.get("DeadLetterConfig") or {}).get("TargetArn")
        if dlq and not response_types:
            require(False, f"'{function_name}' now has a dead-letter queue of its own ({dlq.split(':')[-1]}), but a "
                           "function's dead-letter queue only receives failed asynchronous events, and a mapping "
                           "invokes synchronously. The failed refunds still vanish: notebook 14, 'The queue's "
                           "dead-letter queue' and 'Partial batch responses'.")
        require(reported == 0 or response_types, f"The handler reported the check's refund {bad['id']} as failed "
                f"(see its FAILED line in /aws/lambda/{function_name}), yet it did not come back and never reached "
                f"the queue's dead-letter queue: the mapping from '{queue_name}' still deletes the whole batch "
                "whenever the handler returns normally, whatever the handler answers. Compare what the handler "
                "returns with how the mapping is configured (lam.get_event_source_mapping): notebook 14, 'Partial "
                "batch responses'.")
        require(False, f"The check's failed refund {bad['id']} did not reach the dead-letter queue "
                       f"'{dlq_url.rsplit('/', 1)[-1]}'. Is the handler's code unchanged, and does nothing else read "
                       "that queue?")
    passed(f"a failed refund came back until the queue moved it to its dead-letter queue, and the good refund of "
           f"the same batch was paid once.")


# -- exercise 14.2: a payments stream ------------------------------------------------------------------
MAX_RETRIES = 2
MAX_AGE_S = 600


def _stream_mapping(lam, function_name: str, stream_name: str) -> tuple[dict, str]:
    kinesis = boto3.client("kinesis")
    try:
        stream_arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamARN"]
    except kinesis.exceptions.ResourceNotFoundException:
        require(False, f"There is no stream '{stream_name}': run the exercise's setup cell first.")
    mappings = mappings_from(lam, function_name, stream_arn)
    require(mappings, f"There is no event source mapping from the stream '{stream_name}' to '{function_name}' yet. "
                      "Create one with the settings the requirements call for (notebook 14, 'Streams: shards, order "
                      "and starting position' and 'Poison records').")
    require(len(mappings) == 1, f"'{stream_name}' has {len(mappings)} mappings to '{function_name}': each would settle "
                                "every payment. Delete all but one (lam.delete_event_source_mapping).")
    return mappings[0], stream_arn


def _settings_problem(mapping: dict, stream_name: str) -> str | None:
    """The first requirement the mapping's settings break, as a message; None if the settings meet them all."""
    position = mapping.get("StartingPosition")
    if position != "TRIM_HORIZON":
        return (f"The mapping starts at {position}, so the payments that were already in '{stream_name}' before it "
                "existed are never settled (requirement 1). Notebook 14, 'Streams: shards, order and starting "
                "position'. A mapping's starting position cannot be changed: delete it and create it again.")
    retries = mapping.get("MaximumRetryAttempts", -1)
    if retries < 0 or retries > MAX_RETRIES:
        shown = "until its records expire" if retries < 0 else f"{retries} times"
        return (f"A batch with a bad payment is retried {shown}, and the shard waits meanwhile (requirement 3 allows "
                f"{MAX_RETRIES} retries). Notebook 14, 'Poison records'.")
    if not mapping.get("BisectBatchOnFunctionError"):
        return ("When Lambda gives up on a batch with one bad payment, the good payments of the same batch are given "
                "up with it (requirement 3 wants them settled). The handler cannot name the bad record, so which "
                "setting isolates it? Notebook 14, 'Poison records'.")
    age = mapping.get("MaximumRecordAgeInSeconds", -1)
    if age < 0 or age > MAX_AGE_S:
        shown = "any age" if age < 0 else f"{age:,} s old"
        return (f"A payment of {shown} may still be settled; requirement 4 allows ten minutes. Notebook 14, 'Poison "
                "records'.")
    if not ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"):
        return ("Payments that Lambda gives up on are skipped without a trace (requirement 5). Notebook 14, 'Poison "
                "records' (the last row of the table).")
    if not (mapping.get("FilterCriteria") or {}).get("Filters"):
        return ("Every record of the stream invokes the function, audits included, and each costs an invocation "
                "(requirement 2). Notebook 14, 'Filtering events before they reach the function'.")
    return None


def ex_14_stream_settings(function_name: str = "settle", stream_name: str = "payments",
                          queue_name: str = "settle-failures") -> None:
    """Exercise 14.2: the payments mapping meets the five requirements, shown with a poison record and an audit."""
    lam, sqs, kinesis = boto3.client("lambda"), boto3.client("sqs"), boto3.client("kinesis")
    function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    mapping, stream_arn = _stream_mapping(lam, function_name, stream_name)
    problem = _settings_problem(mapping, stream_name)
    require(problem is None, problem or "")
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    require(destination.split(":")[2] == "sqs" and destination.split(":")[-1] == queue_name,
            f"Failed payments go to {destination}; requirement 5 names the SQS queue '{queue_name}'.")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    _quiet()
    tag = uuid.uuid4().hex[:6]
    records = [{"type": "payment", "id": f"chk-{tag}-1", "amount": 5}, {"type": "audit", "id": f"chk-{tag}-a"},
               {"type": "payment", "id": f"chk-{tag}-bad"}, {"type": "payment", "id": f"chk-{tag}-2", "amount": 7}]
    sequence = {}
    for record in records:
        sequence[record["id"]] = kinesis.put_record(StreamName=stream_name, Data=json.dumps(record).encode(),
                                                    PartitionKey="shop-1")["SequenceNumber"]
    bad = sequence[f"chk-{tag}-bad"]
    found = {"bad": None}

    def is_bad_record(body) -> bool:
        info = body.get("KinesisBatchInfo", {}) if isinstance(body, dict) else {}
        return info.get("streamArn") == stream_arn and info.get("startSequenceNumber") == bad

    def arrived() -> bool:
        if found["bad"] is None:
            found["bad"] = take_message(sqs, url, is_bad_record)
        return found["bad"] is not None

    _settle(arrived)
    arrived()
    require(_log_count(function_name, f"chk-{tag}-a") == 0,
            f"The check's audit record reached '{function_name}' (see its log): the filter lets it through. Requirement "
            "2 wants only records whose type is payment to invoke the function; test your pattern against a record "
            "like {\"type\": \"audit\"} (notebook 14, 'Filtering events before they reach the function').")
    for good in (f"chk-{tag}-1", f"chk-{tag}-2"):
        count = _log_count(function_name, f"SETTLED {good}")
        require(count == 1, f"The check's good payment {good} was settled {count} times, not once. Does the filter "
                            "let payments through, and is the handler unchanged?")
    record = found["bad"]
    require(record is not None, f"The check's bad payment never reached '{queue_name}'. Can the execution role send "
                                "to it? Look at the mapping's LastProcessingResult (lam.get_event_source_mapping).")
    info = record["KinesisBatchInfo"]
    require(info["batchSize"] == 1, f"The failure record in '{queue_name}' covers {info['batchSize']} records: good "
                                    "payments were given up with the bad one.")
    passed(f"the bad payment alone reached {queue_name} ({record['requestContext']['condition']}), both good payments "
           "were settled once, the audit record never invoked the function, and stale or blocking payments are "
           "bounded.")
