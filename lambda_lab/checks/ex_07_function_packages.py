"""Checks for the exercises of notebook 07_function_packages."""

import importlib.util
import json
import re

import boto3

from . import function_config, passed, require

__all__ = ["ex_07_package"]

ROWS = [["apples", 12], ["pears", 0], ["plums", 31]]


def _installed_here(module: str) -> bool:
    """Whether the notebook's own Python can import `module` (the learner may have pip-installed it here)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _import_failure(function_name: str, config: dict, message: str) -> str:
    missing = re.search(r"No module named '([^']+)'", message)
    module = missing.group(1).split(".")[0] if missing else "tabulate"
    if module == "app":
        return (f"'{function_name}' has no app.py at the root of its package (Runtime.ImportModuleError: {message}). "
                "The handler file must travel with the libraries: build_package(HANDLER, requirements=[...]) puts "
                "both in one zip. If you packed only the libraries, add the handler; if you zipped a folder, zip "
                "its contents, not the folder itself.")
    sentences = [f"'{function_name}' still cannot import {module} (Runtime.ImportModuleError: {message})."]
    if _installed_here(module):
        sentences.append(f"{module} is installed in this notebook's Python, but that does not reach the function: "
                         "the handler runs in its own execution environment.")
    sentences.append("A handler only sees its deployment package (unpacked in /var/task) and its layers (under "
                     "/opt/python), besides the runtime's standard library and the AWS SDK.")
    layers = config.get("Layers") or []
    if layers:
        sentences.append(f"The function uses {len(layers)} layer{'s' * (len(layers) > 1)}, but none provides "
                         f"{module} where Python looks: in a layer's zip, Python packages must sit under python/ "
                         "(lambda_lab.layer_zip lays them out so).")
    sentences.append("Put the library into the package: lambda_lab.build_package(HANDLER, "
                     "requirements=['tabulate==0.10.0']), then update_function_code(ZipFile=...); or publish it as "
                     "a layer and add the layer with update_function_configuration(Layers=[...]).")
    return " ".join(sentences)


def ex_07_package(function_name: str = "stock-report") -> None:
    """The function imports its third-party library (from its package or a layer) and answers its table."""
    lam = boto3.client("lambda")
    config = function_config(function_name, "Run the exercise's setup cell first: it creates the function that you "
                                            "then repackage.")
    response = lam.invoke(FunctionName=function_name, Payload=json.dumps({"rows": ROWS}))
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        error = payload if isinstance(payload, dict) else {}
        error_type, message = error.get("errorType", ""), error.get("errorMessage", "")
        require(error_type != "Runtime.ImportModuleError", _import_failure(function_name, config, message))
        require(False, f"'{function_name}' now imports its modules but fails with {error_type}: {message}. Keep the "
                       "handler's code as it was and change only what is packaged with it.")
    lines = payload.splitlines() if isinstance(payload, str) else []
    require(len(lines) == len(ROWS) + 2 and lines[0].split() == ["item", "in", "stock"]
            and all(str(row[0]) in line for row, line in zip(ROWS, lines[2:])),
            f"'{function_name}' answered {payload!r}, not tabulate's table of the rows it was sent. Keep the "
            "handler's code as it was and change only what is packaged with it.")
    passed(f"'{function_name}' imports tabulate and answers its table.")
