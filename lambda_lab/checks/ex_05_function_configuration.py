"""Checks for the exercises of notebook 05_function_configuration."""

import json

import boto3

from . import function_config, passed, require

__all__ = ["ex_05_timeout", "ex_05_reserved_concurrency"]


def ex_05_timeout(function_name: str = "report") -> None:
    """The function finishes within its timeout, with its code unchanged."""
    lam = boto3.client("lambda")
    config = function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    response = lam.invoke(FunctionName=function_name, Payload=b"{}")
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        error = payload.get("errorType") if isinstance(payload, dict) else None
        hint = ""
        if config["MemorySize"] > 128:
            hint = (f" You raised MemorySize to {config['MemorySize']} MB: memory buys CPU, but this handler "
                    "spends its time waiting (time.sleep), not computing.")
        require(False, f"'{function_name}' still fails ({error}: {payload.get('errorMessage', '')}). Its timeout is "
                       f"{config['Timeout']} s.{hint} How long does one call need, and which setting limits how long a call "
                       "may run? Notebook 05, section 'Timeout'.")
    require(payload == {"status": "report ready"},
            f"'{function_name}' answered {payload!r}: keep its code as it was and change only its configuration.")
    require(config["Timeout"] <= 30, f"A timeout of {config['Timeout']} s works, but a limit far above what the "
                                     "function needs lets a stuck call run (and bill) that long. Choose a few seconds.")
    passed(f"'{function_name}' finishes in time with a {config['Timeout']} s timeout.")


PEAK = 8            # exercise 05.2: calls that reach quote-api at the same moment at its busiest
DB_CONNECTIONS = 15  # what the database accepts; each execution environment holds one connection
QUOTE = {"quote": "ok"}


def ex_05_reserved_concurrency(function_name: str = "quote-api") -> None:
    """Exercise 05.2: the peak runs without throttles, and the function can never open too many connections."""
    lam = boto3.client("lambda")
    function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    reserved = lam.get_function_concurrency(FunctionName=function_name).get("ReservedConcurrentExecutions")
    section = "Notebook 05, section 'Concurrency'"
    require(reserved is not None,
            f"'{function_name}' has no reserved concurrency now, so nothing caps it: at a bigger peak it could run "
            f"more environments, each with its own database connection, than the {DB_CONNECTIONS} the database "
            f"accepts (requirement 2). Which setting guarantees and caps at the same time? {section}.")
    require(reserved >= PEAK,
            f"At its peak {PEAK} calls reach '{function_name}' at the same moment, and its reserved concurrency of "
            f"{reserved} lets only {reserved} run: the other {PEAK - reserved} are throttled (TooManyRequestsException, "
            f"Reason ReservedFunctionConcurrentInvocationLimitExceeded). {section}: what does reserved concurrency "
            "limit?")
    require(reserved <= DB_CONNECTIONS,
            f"Reserved concurrency {reserved} lets '{function_name}' run {reserved} environments at once, each with "
            f"its own database connection: more than the {DB_CONNECTIONS} the database accepts (requirement 2).")
    response = lam.invoke(FunctionName=function_name, Payload=b"{}")
    payload = json.loads(response["Payload"].read() or b"null")
    require(not response.get("FunctionError") and payload == QUOTE,
            f"'{function_name}' answered {payload!r}: keep its code as it was and change only its concurrency.")
    passed(f"'{function_name}' may run {reserved} calls at once: its peak of {PEAK} is never throttled, and it can "
           f"never hold more than {reserved} of the database's {DB_CONNECTIONS} connections.")
