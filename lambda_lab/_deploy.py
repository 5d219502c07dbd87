"""`lab.deploy(template)`: create or update a CloudFormation stack with plain boto3, showing its events as they happen.

The lessons teach `cloudformation.create_stack(...)`; this is the `sam deploy` of the lab, a convenience
that works the same on every backend.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED",
            "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED")

__all__ = ["deploy", "CAPABILITIES"]


def _template_text(template: str | os.PathLike) -> tuple[str, str | None]:
    """(template text, file stem when it came from a file)."""
    if isinstance(template, os.PathLike) or ("\n" not in str(template) and Path(str(template)).is_file()):
        path = Path(template)
        return path.read_text(), path.stem
    if "\n" not in str(template) and str(template).endswith((".yaml", ".yml", ".json", ".template")):
        raise FileNotFoundError(f"lab.deploy(template=...): no file {template!r}; pass a path to a template file "
                                "or the template's text itself")
    return str(template), None


def deploy(region: str, template: str | os.PathLike, parameters: dict | None = None, stack_name: str | None = None,
           quiet: bool = False, timeout: float = 900.0) -> dict:
    """Create the stack (or update it when it exists) and return its outputs; raise if it does not succeed."""
    body, _ = _template_text(template)
    name = stack_name or "sam-app"  # sam deploy's default name
    cfn = boto3.client("cloudformation", region_name=region)
    args = {"StackName": name, "TemplateBody": body, "Capabilities": CAPABILITIES,
            "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in (parameters or {}).items()]}
    status = _status(cfn, name)
    if status == "ROLLBACK_COMPLETE":  # a stack that never got made can only be deleted, as sam deploy says
        _say(quiet, f"Stack {name} is in ROLLBACK_COMPLETE from an earlier failed create: deleting it first")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name)
        status = None
    seen = {e["EventId"] for e in _events(cfn, name)} if status else set()
    action = cfn.update_stack if status else cfn.create_stack
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["id"] = action(**args)["StackId"]
        except BaseException as error:  # shown in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="lambda-lab-deploy", daemon=True)
    worker.start()  # the local lab makes resources inside the call: watch its events meanwhile
    end = time.monotonic() + timeout
    while True:
        if worker.is_alive():
            worker.join(0.2)
        else:  # the call returned; the stack may still be working (a CodeDeploy deployment, a real account)
            time.sleep(0.3)
        # read before the outcome, and used below: a call that ends meanwhile is seen on the next round
        returned = not worker.is_alive()
        error = outcome.get("error")
        if isinstance(error, ClientError) and "No updates are to be performed" in str(error):
            _say(quiet, f"Stack {name}: no changes to deploy")
            return _outputs(cfn, name)
        if error is not None:
            raise error
        try:
            for event in _events(cfn, outcome.get("id", name)):
                if event["EventId"] not in seen:
                    seen.add(event["EventId"])
                    _say(quiet, _line(event))
        except ClientError:  # the stack is not there yet
            pass
        status = _status(cfn, outcome["id"]) if returned else None
        if status in _SETTLED:
            break
        if time.monotonic() > end:
            raise TimeoutError(f"lab.deploy: stack {name} is still {status} after {timeout:.0f} s")
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        reasons = [e.get("ResourceStatusReason") for e in _events(cfn, outcome["id"])
                   if e["ResourceStatus"].endswith("FAILED") and e.get("ResourceStatusReason")]
        raise RuntimeError(f"Stack {name} ended in {status}" + (f": {reasons[0]}" if reasons else "") +
                           " (describe_stack_events shows every step)")
    return _outputs(cfn, outcome["id"])


def _status(cfn, name: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in str(error) or error.response["Error"]["Code"] == "ValidationError":
            return None
        raise


def _events(cfn, name: str) -> list[dict]:
    events = [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name)
              for e in page["StackEvents"]]
    return list(reversed(events))  # oldest first


def _outputs(cfn, name: str) -> dict:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def _line(event: dict) -> str:
    when = event["Timestamp"].strftime("%H:%M:%S")
    reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
    return f"{when}  {event['ResourceStatus']:<28} {event['ResourceType']:<36} {event['LogicalResourceId']}{reason}"


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)
