"""Checks for the exercises of notebook 15_performance: provisioned concurrency that no longer reaches its callers,
and how much provisioned concurrency two workloads should get."""

import base64

import boto3

from . import function_config, passed, require

__all__ = ["ex_15_cold_starts_back", "ex_15_right_size"]

SECTION = "notebook 15, 'Provisioned concurrency vs on demand, side by side'"
COST_SECTION = "notebook 15, 'What provisioned concurrency costs'"


def _configs(lam, name: str) -> dict[str, dict]:
    """{qualifier: provisioned concurrency config} of every version and alias of `name`."""
    found, marker = {}, None
    while True:
        page = lam.list_provisioned_concurrency_configs(FunctionName=name, **({"Marker": marker} if marker else {}))
        for config in page["ProvisionedConcurrencyConfigs"]:
            found[config["FunctionArn"].rsplit(":", 1)[-1]] = config
        marker = page.get("NextMarker")
        if not marker:
            return found


def _settle() -> None:
    """Let a local lab finish allocating (IN_PROGRESS -> READY takes a lab minute); on AWS the learner waits."""
    from .. import Lab

    lab = Lab.current()
    if lab is not None and lab.backend == "local":
        lab.wait_for_async(progress=False)


def _alias_version(lam, name: str, alias: str) -> str:
    try:
        return lam.get_alias(FunctionName=name, Name=alias)["FunctionVersion"]
    except lam.exceptions.ResourceNotFoundException:
        require(False, f"'{name}' has no alias '{alias}' any more: the web shop calls '{name}:{alias}'. Run the "
                       "exercise's setup cell again to restore it.")


def _ready(lam, name: str, qualifier: str) -> dict:
    _settle()
    config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
    require(config["Status"] == "READY",
            f"The provisioned concurrency of '{name}:{qualifier}' is {config['Status']}"
            f"{' (' + config['StatusReason'] + ')' if config.get('StatusReason') else ''}, not READY yet. "
            "FAILED means the module code of that version raised while it was initialised: read its log group.")
    return config


def _report_of(lam, name: str, qualifier: str) -> str:
    response = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=b'{"items": 1}', LogType="Tail")
    tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    return next((line for line in reversed(tail.splitlines()) if line.startswith("REPORT")), "")


def ex_15_cold_starts_back(function_name: str = "checkout", alias: str = "live", needed: int = 3) -> None:
    """Exercise 15.1: calls through `alias` start warm, the provisioned concurrency follows the alias to the next
    release, and no version keeps environments that no caller uses."""
    lam = boto3.client("lambda")
    function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    target = _alias_version(lam, function_name, alias)
    configs = _configs(lam, function_name)
    on_alias = configs.get(alias)
    on_target = configs.get(target)
    if on_alias is None and on_target is None:
        elsewhere = ", ".join(f"version {q}" if q.isdigit() else f"alias {q}" for q in sorted(configs)) or "nothing"
        require(False, f"Calls through '{function_name}:{alias}' run version {target}, and version {target} has no "
                       f"provisioned concurrency, so every new environment is a cold start (look for Init Duration "
                       f"in the REPORT lines). What is provisioned now: {elsewhere}. Which qualifier do the callers "
                       f"use, and what happens at the next release? See {SECTION}.")
    require(on_alias is not None,
            f"Version {target} has provisioned concurrency of its own, so calls through '{alias}' start warm today. "
            f"But the next release moves '{alias}' to a new version, and these environments stay behind on version "
            f"{target}: the cold starts come back (requirement 2). Where can the configuration live so that it "
            f"moves with the alias? See {SECTION}.")
    stale = {q: c for q, c in configs.items() if q != alias}
    require(not stale, "Still provisioned besides the alias: " + ", ".join(
        f"version {q} ({c['RequestedProvisionedConcurrentExecutions']} environments)" for q, c in sorted(stale.items()))
        + f". No caller reaches them through '{alias}', yet each one is billed for every second it exists "
          f"(requirement 3). See {COST_SECTION}.")
    config = _ready(lam, function_name, alias)
    amount = config["RequestedProvisionedConcurrentExecutions"]
    require(amount >= needed, f"'{function_name}:{alias}' has {amount} provisioned environment"
                              f"{'s' * (amount != 1)}, but the shop sends up to {needed} requests at the same "
                              "moment: the others spill over to on-demand environments and start cold "
                              "(requirement 1).")
    report = _report_of(lam, function_name, alias)
    require("Init Duration" not in report,
            f"A call through '{function_name}:{alias}' still started cold: {report.strip()[:160]}")
    passed(f"calls through '{function_name}:{alias}' (version {target}) start warm on {amount} provisioned "
           f"environments, the configuration follows the alias, and no other version keeps any.")


# exercise 15.2: the two workloads, as the exercise states them
SEARCH = {"requests_per_s": 40, "billed_ms": 100, "memory_mb": 1024, "hours": 12}
HEADROOM = 1.5  # at most 50 % above the steady concurrency


def _steady_concurrency(load: dict) -> float:
    return load["requests_per_s"] * load["billed_ms"] / 1000


def ex_15_right_size(search: str = "search", report: str = "nightly-report", alias: str = "live") -> None:
    """Exercise 15.2: `search:live` gets enough provisioned concurrency for its steady load and no more than pays
    off; the nightly report gets none."""
    from .. import pricing

    lam = boto3.client("lambda")
    for name in (search, report):
        function_config(name, "Run the exercise's setup cell first: it creates both functions.")
    report_configs = _configs(lam, report)
    if report_configs:
        amount = sum(c["RequestedProvisionedConcurrentExecutions"] for c in report_configs.values())
        estimate = pricing.provisioned_estimate(amount, 512, 24, 1, 180_000)
        require(False, f"'{report}' has {amount} provisioned environment{'s' * (amount != 1)}. It runs one "
                       f"3-minute job a night that nobody waits for: kept warm all day they would be "
                       f"{estimate.utilisation:.1%} utilised and cost about {pricing.usd(estimate.total)} a day "
                       f"instead of {pricing.usd(estimate.on_demand_cost)} on demand. A cold start of a second "
                       f"or two does not matter to a batch job. See {COST_SECTION}.")
    configs = _configs(lam, search)
    require(configs, f"'{search}' has no provisioned concurrency, so every environment it adds at 8:00 and at "
                     "each peak starts cold, and the product team wants no cold starts during the day. How many "
                     f"requests does it handle at the same moment? See {SECTION} and {COST_SECTION}.")
    require(alias in configs, "Provisioned concurrency is on " + ", ".join(
        f"version {q}" if q.isdigit() else f"alias {q}" for q in sorted(configs))
        + f", but the API calls '{search}:{alias}'. Put it where the callers' qualifier leads, so that it "
          f"moves with the alias at the next release. See {SECTION}.")
    require(len(configs) == 1, f"'{search}' has provisioned concurrency on more than '{alias}': "
                               f"{', '.join(sorted(configs))}. Only '{alias}' receives traffic.")
    amount = configs[alias]["RequestedProvisionedConcurrentExecutions"]
    steady = _steady_concurrency(SEARCH)
    require(amount >= steady,
            f"'{search}:{alias}' has {amount} provisioned environment{'s' * (amount != 1)}, fewer than the load "
            f"keeps busy at once: the rest spill over to on-demand environments and start cold. How many requests "
            f"are in flight at any moment when {SEARCH['requests_per_s']} arrive each second and each takes "
            f"{SEARCH['billed_ms']} ms? See {SECTION}.")
    estimate = pricing.provisioned_estimate(amount, SEARCH["memory_mb"], SEARCH["hours"],
                                            int(SEARCH["requests_per_s"] * 3600 * SEARCH["hours"]),
                                            SEARCH["billed_ms"])
    require(amount <= steady * HEADROOM and estimate.pays_off,
            f"{amount} provisioned environments for '{search}' would be {estimate.utilisation:.0%} utilised and "
            f"cost {pricing.usd(estimate.total)} a day against {pricing.usd(estimate.on_demand_cost)} on demand "
            f"({'pays off' if estimate.pays_off else 'costs more than on demand'}); the team allows at most 50 % "
            f"headroom above the steady load. Use pricing.provisioned_estimate to compare amounts. "
            f"See {COST_SECTION}.")
    config = _ready(lam, search, alias)
    line = _report_of(lam, search, alias)
    require("Init Duration" not in line, f"A call through '{search}:{alias}' still started cold: {line.strip()[:160]}")
    passed(f"'{search}:{alias}' keeps {config['AllocatedProvisionedConcurrentExecutions']} environments warm "
           f"({estimate.utilisation:.0%} utilised, {pricing.usd(estimate.total)} a day against "
           f"{pricing.usd(estimate.on_demand_cost)} on demand) and '{report}' stays on demand.")
