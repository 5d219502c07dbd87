"""Checks for the exercises of notebook 08_versions_and_aliases."""

from collections import Counter

import boto3

from . import passed, require

__all__ = ["ex_08_canary"]

REQUESTS = 200


def _routing(new: str, weight: float) -> str:
    return f"RoutingConfig={{'AdditionalVersionWeights': {{'{new}': {weight}}}}}"


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
            f"would reach every caller at once. Point it back at published version {old} "
            f"(update_alias(..., FunctionVersion='{old}')) and give the new code its share as a published version.")
    require(bool(new_code),
            f"The new code is only in $LATEST: no published version holds it yet, and an alias can route only to "
            f"published versions (a weight on '$LATEST' is refused with a ValidationException). Call "
            f"publish_version(FunctionName='{function_name}') first, then update_alias with {_routing(new, weight)}.")
    if not weights:
        require(primary not in new_code,
                f"You moved '{alias}' entirely to version {primary}: every request now runs the new code. That is an "
                f"all-at-once (blue/green) switch, not a canary. Keep FunctionVersion='{old}' and send {share} to "
                f"version {primary} with {_routing(primary, weight)}.")
        require(False, f"'{alias}' still sends every request to version {primary}: it has no RoutingConfig. Call "
                       f"update_alias(FunctionName='{function_name}', Name='{alias}', FunctionVersion='{primary}', "
                       f"{_routing(new, weight)}).")
    (extra, given), = weights.items()  # Lambda allows one additional version only
    if primary in new_code and extra in old_code:
        require(False, f"'{alias}' runs the new version {primary} as its main version and sends {given:.0%} to the old "
                       f"version {extra}. The roles are reversed: in a canary the alias's own version is the stable one "
                       f"(version {extra}) and the new version is the additional one, so that rolling back is just "
                       f"removing the weight. Use FunctionVersion='{extra}' and {_routing(primary, weight)}.")
    require(extra in new_code and primary in old_code,
            f"'{alias}' splits its traffic between versions {primary} and {extra}, but only version "
            f"{' and '.join(new_code)} holds the new code (the CodeSha256 of $LATEST). Keep FunctionVersion='{old}' "
            f"and send {share} to version {new}.")
    if abs(given - (1 - weight)) < 0.011 and abs(given - weight) >= 0.011:
        require(False, f"A weight of {given} sends {given:.0%} of requests to the new version {extra} and leaves only "
                       f"{1 - given:.0%} on version {primary}. The weight is the share of the additional version; the "
                       f"alias's own version gets the rest. Use {_routing(extra, weight)}.")
    require(abs(given - weight) < 0.011,
            f"'{alias}' sends {given:.0%} of requests to version {extra}; the task asks for {share}: "
            f"{_routing(extra, weight)}.")

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
