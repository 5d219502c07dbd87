"""Checks for the exercises of notebook 07_function_packages."""

import importlib.util
import json
import re

import boto3

from . import function_config, passed, require

__all__ = ["ex_07_package", "ex_07_shared_layer"]

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
                "The handler file must travel in the same zip as the libraries (notebook 07, 'What is in a "
                "package'). If you packed only the libraries, add the handler; if you zipped a folder, zip its "
                "contents, not the folder itself.")
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
    sentences.append("Notebook 07 shows two ways to bring a library along: '`pip install --target`: libraries "
                     "next to your code' (in the package) and 'Layers: code that several functions share'.")
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


# exercise 07.2: two functions share `helpers` through a layer whose first version was built wrongly
SHARED = ("invoice-total", "receipt-total")
MONEY = "def euros(cents):\n    return f\"{cents / 100:.2f} EUR\"\n"
TOTAL = ("from helpers.money import euros\n\n\ndef handler(event, context):\n"
         "    return {\"total\": euros(sum(item[\"cents\"] for item in event[\"items\"]))}\n")


def broken_layer() -> bytes:
    """The layer as the exercise's setup publishes it: `helpers/` at the zip's root, not under python/."""
    from ..packaging import zip_source

    return zip_source({"helpers/__init__.py": "", "helpers/money.py": MONEY})


def _sha(zip_bytes: bytes) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def _layers_of(lam, config: dict) -> list[tuple[str, str | None]]:
    """(layer version ARN, its CodeSha256) for each layer of a function."""
    found = []
    for layer in config.get("Layers") or []:
        try:
            layer_arn, version = layer["Arn"].rsplit(":", 1)
            sha = lam.get_layer_version(LayerName=layer_arn, VersionNumber=int(version))["Content"]["CodeSha256"]
        except Exception:  # noqa: BLE001 - a deleted layer version: the function's answer will say the rest
            sha = None
        found.append((layer["Arn"], sha))
    return found


def ex_07_shared_layer(functions: tuple[str, ...] = SHARED, layer_name: str = "shared-helpers") -> None:
    """Exercise 07.2: every function imports `helpers` from a correctly built layer, with its package unchanged."""
    from ..packaging import zip_source

    lam = boto3.client("lambda")
    own_package = _sha(zip_source(TOTAL))
    broken = _sha(broken_layer())
    section = "Notebook 07, 'Layers: code that several functions share'"
    for name in functions:
        config = function_config(name, "Run the exercise's setup cell first: it creates the functions and the layer.")
        require(config["CodeSha256"] == own_package,
                f"The package of '{name}' is not its original one any more. The requirement is to keep `helpers` in "
                "one place that both functions share, so that a fix reaches both at once: leave each function's "
                "own package (the handler alone) as it was and repair the shared part.")
        layers = _layers_of(lam, config)
        require(bool(layers), f"'{name}' uses no layer now, so nothing brings it `helpers`. {section}.")
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"items": [{"cents": 250}, {"cents": 399}]}))
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            error = payload if isinstance(payload, dict) else {}
            sentences = [f"'{name}' still fails: {error.get('errorType')}: {error.get('errorMessage')}."]
            if any(sha == broken for _, sha in layers):
                old = next(arn for arn, sha in layers if sha == broken)
                sentences.append(f"It uses {old.split(':', 6)[-1]}, the layer version whose zip holds `helpers/` at "
                                 "its root. Where does Lambda unpack a layer, and where does Python look in it?")
                newer = [v["LayerVersionArn"] for v in lam.list_layer_versions(LayerName=layer_name)
                         .get("LayerVersions", []) if v["LayerVersionArn"] != old]
                if newer:
                    sentences.append("A newer version of the layer exists, but a function runs exactly the layer "
                                     "version it names; changing the layer does not change the functions.")
            sentences.append(f"{section}.")
            require(False, " ".join(sentences))
        require(payload == {"total": "6.49 EUR"}, f"'{name}' answered {payload!r}, not the total of the check's items.")
    passed(f"{' and '.join(map(repr, functions))} import helpers from a layer laid out under python/, and their own "
           "packages are unchanged.")
