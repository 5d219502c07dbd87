"""Checks for the exercises of notebook 08_versions_and_aliases."""

import json
import re
import time
import uuid
from collections import Counter

import boto3

from . import passed, require

__all__ = ["ex_08_canary", "ex_08_topic_follows_alias"]

REQUESTS = 200


CANARY = "notebook 08, section 'Canary release: a small share of traffic for the new version'"


def ex_08_canary(function_name: str = "checkout", alias: str = "live", weight: float = 0.1) -> None:
    """The alias keeps its old version and sends `weight` of its traffic to a published version of the new code."""
    lam = boto3.client("lambda")
    try:
        state = lam.get_alias(FunctionName=function_name, Name=alias)
    except lam.exceptions.ResourceNotFoundException:
        require(False, f"There is no alias '{alias}' on a function '{function_name}'. Run the exercise's setup cell "
                       "first: it creates both.")
    latest = lam.get_function_configuration(FunctionName=function_name)
    versions = [v for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=function_name)
                for v in page["Versions"] if v["Version"] != "$LATEST"]
    new_code = sorted((v["Version"] for v in versions if v["CodeSha256"] == latest["CodeSha256"]), key=int)
    old_code = sorted((v["Version"] for v in versions if v["CodeSha256"] != latest["CodeSha256"]), key=int)
    old = old_code[0] if old_code else "1"
    new = new_code[-1] if new_code else "2"
    primary = state["FunctionVersion"]
    weights = (state.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    share = f"{weight:.0%}"

    require(primary != "$LATEST",
            f"'{alias}' points at $LATEST, the one version that changes with every update: whatever is deployed next "
            f"would reach every caller at once. Keep it on the published version {old} and give the new code its share "
            f"as a published version ({CANARY}).")
    require(bool(new_code),
            "The new code is only in $LATEST: no published version holds it yet, and an alias can route only to "
            "published versions (a weight on '$LATEST' is refused with a ValidationException). Freeze the new code "
            "first: notebook 08, section 'Publishing a version'.")
    if not weights:
        require(primary not in new_code,
                f"You moved '{alias}' entirely to version {primary}: every request now runs the new code. That is an "
                "all-at-once (blue/green) switch, not a canary: in a canary the alias keeps its old version and sends "
                f"only a share of its requests to the new one ({CANARY}).")
        require(False, f"'{alias}' still sends every request to version {primary}: it does not split its traffic "
                       f"with the new version {new} yet ({CANARY}).")
    (extra, given), = weights.items()  # Lambda allows one additional version only
    if primary in new_code and extra in old_code:
        require(False, f"'{alias}' runs the new version {primary} as its main version and sends {given:.0%} to the old "
                       f"version {extra}. The roles are reversed: in a canary the alias's own version is the stable one "
                       f"(version {extra}) and the new version is the additional one, so that rolling back is just "
                       "removing the weight.")
    require(extra in new_code and primary in old_code,
            f"'{alias}' splits its traffic between versions {primary} and {extra}, but only version "
            f"{' and '.join(new_code)} holds the new code (the CodeSha256 of $LATEST).")
    if abs(given - (1 - weight)) < 0.011 and abs(given - weight) >= 0.011:
        require(False, f"A weight of {given} sends {given:.0%} of requests to the new version {extra} and leaves only "
                       f"{1 - given:.0%} on version {primary}. The weight is the share of the additional version; the "
                       "alias's own version gets the rest.")
    require(abs(given - weight) < 0.011,
            f"'{alias}' sends {given:.0%} of requests to version {extra}; the task asks for {share}.")

    served, failures = Counter(), 0
    for _ in range(REQUESTS):
        response = lam.invoke(FunctionName=function_name, Qualifier=alias, Payload=b'{"items": 4}')
        response["Payload"].read()
        served[response.get("ExecutedVersion")] += 1
        failures += bool(response.get("FunctionError"))
    require(failures == 0, f"{failures} of {REQUESTS} requests to '{alias}' failed: look at the function's logs.")
    low, high = max(1, int(REQUESTS * weight / 3)), int(REQUESTS * min(1.0, weight * 2.5))
    require(low <= served[extra] <= high,
            f"Of {REQUESTS} requests to '{alias}', {served[extra]} ran version {extra}, far from {share}: "
            f"{dict(served)}. Look at the alias with get_alias.")
    passed(f"'{alias}' keeps version {primary} and sends {share} to version {extra}: {served[extra]} of {REQUESTS} "
           f"requests ran version {extra}.")


_SECTION = "notebook 08, section 'Event sources point at the alias'"


def _sns_statements(lam, function_name: str) -> list[dict]:
    """The statements of every version's and alias's policy that let SNS invoke (each with its Resource).

    Each version and alias has a policy of its own, so each is read: the function's, every version's, every alias's.
    """
    qualifiers = [None]
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=function_name):
        qualifiers += [v["Version"] for v in page["Versions"] if v["Version"] != "$LATEST"]
    for page in lam.get_paginator("list_aliases").paginate(FunctionName=function_name):
        qualifiers += [a["Name"] for a in page["Aliases"]]
    statements = []
    for qualifier in qualifiers:
        try:
            policy = lam.get_policy(FunctionName=function_name, **({"Qualifier": qualifier} if qualifier else {}))
        except lam.exceptions.ResourceNotFoundException:
            continue
        statements += json.loads(policy["Policy"])["Statement"]
    found = []
    for statement in statements:
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if service == "sns.amazonaws.com" and statement.get("Effect", "Allow") == "Allow":
            found.append(statement)
    return found


def _source_arn(statement: dict) -> str | None:
    for operator in ("ArnLike", "ArnEquals", "StringEquals", "StringLike"):
        for key, value in ((statement.get("Condition") or {}).get(operator) or {}).items():
            if key.lower() == "aws:sourcearn":
                return value
    return None


def _version_of(stream_name: str) -> str | None:
    """A log stream's version: Lambda names streams 'YYYY/MM/DD/[version]id'."""
    match = re.search(r"\[(\$LATEST|\d+)\]", stream_name)
    return match.group(1) if match else None


def _delivered_version(function_name: str, topic_arn: str, deadline_s: float = 60.0) -> str | None:
    """Publish a test order to the topic; the version whose log shows it (the lab fast-forwards; AWS is polled)."""
    from .._lab import Lab

    marker = f"check-{uuid.uuid4().hex[:8]}"
    boto3.client("sns").publish(TopicArn=topic_arn, Message=json.dumps({"id": marker, "items": 4}))
    lab = Lab.current()
    local = lab is not None and getattr(lab, "backend", "local") == "local"
    logs = boto3.client("logs")
    until = time.monotonic() + (0 if local else deadline_s)
    while True:
        if local:
            lab.wait_for_async()
        try:
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function_name}",
                                                                         ):
                for event in page["events"]:
                    if marker in event["message"]:
                        return _version_of(event["logStreamName"]) or "?"
        except logs.exceptions.ResourceNotFoundException:
            pass
        if time.monotonic() >= until:
            return None
        time.sleep(3)


def ex_08_topic_follows_alias(function_name: str = "checkout", alias: str = "live",
                              topic_name: str = "new-orders") -> None:
    """Orders from the SNS topic run the version the alias points at, and nothing else may invoke from the topic."""
    lam, sns = boto3.client("lambda"), boto3.client("sns")
    try:
        state = lam.get_alias(FunctionName=function_name, Name=alias)
    except lam.exceptions.ResourceNotFoundException:
        state = None
    topics = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
              if t["TopicArn"].rsplit(":", 1)[-1] == topic_name]
    require(state is not None and bool(topics),
            f"There is no alias '{alias}' on '{function_name}', or no topic '{topic_name}'. Run the exercise's setup "
            "cell first: it creates them.")
    topic_arn, alias_arn, current = topics[0], state["AliasArn"], state["FunctionVersion"]
    function_arn = alias_arn.rsplit(":", 1)[0]
    endpoints = [s["Endpoint"] for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
                 for s in page["Subscriptions"] if s["Protocol"] == "lambda"
                 and (s["Endpoint"] == function_arn or s["Endpoint"].startswith(function_arn + ":"))]

    require(bool(endpoints), f"'{topic_name}' no longer invokes '{function_name}' at all: orders published to it now "
                             "reach nobody. The topic must keep delivering them, to the right place.")
    others = [e for e in endpoints if e != alias_arn]
    if others and alias_arn not in endpoints:
        pinned = others[0].rsplit(":", 1)[-1] if others[0] != function_arn else None
        require(pinned is None,
                f"Orders from '{topic_name}' still run version {pinned} of '{function_name}', while '{alias}' points "
                f"at version {current}: the topic does not follow releases. Look at where its subscription sends "
                f"orders, and at what the website calls ({_SECTION}).")
        require(False, f"'{topic_name}' invokes '{function_name}' without a qualifier, so its orders run $LATEST: "
                       f"whatever was deployed last, tested or not, rather than the release '{alias}' points at "
                       f"({_SECTION}).")
    require(not others,
            f"'{topic_name}' has a subscription to '{alias}' and another to {', '.join(others)}: every order now "
            "runs twice, once through each. Keep only the one that follows releases.")

    statements = _sns_statements(lam, function_name)
    on_alias = [s for s in statements if s.get("Resource") == alias_arn]
    require(bool(on_alias),
            f"The subscription names '{alias}', but no statement lets SNS invoke '{alias}'. On AWS every delivery "
            "would be refused: each version and alias has a resource-based policy of its own, and a statement "
            f"added to the function or to a version does not cover an alias ({_SECTION}).")
    require(any(_source_arn(s) == topic_arn for s in on_alias),
            f"The statement that lets SNS invoke '{alias}' does not name the topic: as it stands, any SNS topic, in "
            f"any account, may invoke '{function_name}:{alias}'. Limit it to '{topic_name}'.")
    leftover = sorted({s.get("Resource", "").rsplit(":", 1)[-1] if s.get("Resource") != function_arn else "$LATEST"
                       for s in statements if s.get("Resource") != alias_arn and _source_arn(s) in (topic_arn, None)})
    require(not leftover,
            f"The policy of '{function_name}' version(s) {', '.join(leftover)} still lets SNS invoke them, although no "
            "subscription uses that any more. Remove permissions nobody needs (least privilege).")

    ran = _delivered_version(function_name, topic_arn)
    require(ran is not None, f"A test order published to '{topic_name}' did not show up in the log group "
                             f"/aws/lambda/{function_name}. Look there, and at the subscription.")
    require(ran == current, f"A test order published to '{topic_name}' ran version {ran}, but '{alias}' points at "
                            f"version {current}.")
    passed(f"'{topic_name}' invokes '{function_name}:{alias}', which SNS alone, from this topic, may call; a test "
           f"order ran version {current}, the one '{alias}' points at.")
