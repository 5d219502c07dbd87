"""Checks for the exercises of notebook 05_function_configuration."""

import json

import boto3

from . import function_config, passed, require

__all__ = ["ex_05_timeout"]


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
                       f"{config['Timeout']} s.{hint} Raise Timeout with update_function_configuration.")
    require(payload == {"status": "report ready"},
            f"'{function_name}' answered {payload!r}: keep its code as it was and change only its configuration.")
    require(config["Timeout"] <= 30, f"A timeout of {config['Timeout']} s works, but a limit far above what the "
                                     "function needs lets a stuck call run (and bill) that long. Choose a few seconds.")
    passed(f"'{function_name}' finishes in time with a {config['Timeout']} s timeout.")
