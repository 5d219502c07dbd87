"""Run lessons top to bottom on the endpoint backend, against a stand-in account, and say which cells failed.

    .venv/bin/python tools/run_notebooks_remote.py [notebooks/04_*.ipynb ...]

Each notebook runs in a fresh kernel with LAMBDA_LAB_BACKEND=endpoint and AWS_ENDPOINT_URL pointing at
tools/standin_account.py's server (started here, in its own process). A cell that raises is reported unless the
notebook tags it `raises-exception` (an error the lesson means to show). Prints one line per notebook and the
failing cells' errors; after a full run, a final lab.cleanup() and whatever the account still holds. Exits 1 if a
cell failed or something was left. The executed copies are not written back. CI runs it (.ci/run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def _start_server(home: Path, concurrency: int = 1000, region: str = "us-east-1") -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "LAMBDA_LAB_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools" / "standin_account.py"), "--port", "0",
                             "--concurrency", str(concurrency), "--region", region],
                            stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    found = re.search(r" at (\S+) \(APIs and function URLs at (\S+)\)", line)
    if found is None:
        proc.kill()
        raise SystemExit(f"the stand-in account did not start: {line!r}")
    return proc, found.group(1), found.group(2)


def _account_env(url: str, home: Path, region: str) -> dict[str, str]:
    """What a learner's kernel sets to use the stand-in account as its endpoint."""
    return {"LAMBDA_LAB_BACKEND": "endpoint", "AWS_ENDPOINT_URL": url, "LAMBDA_LAB_HOME": str(home),
            "AWS_ACCESS_KEY_ID": "standin", "AWS_SECRET_ACCESS_KEY": "standin", "AWS_DEFAULT_REGION": region}


def run(path: Path, url: str, door: str, home: Path, timeout: int, region: str = "us-east-1") -> list[str]:
    """The errors of the cells that raised and were not meant to."""
    notebook = nbformat.read(path, as_version=4)
    env = {**_account_env(url, home, region), "LAMBDA_LAB_FRONT_DOOR": door}
    env_cell = nbformat.v4.new_code_cell(f"import os\nos.environ.update({env!r})")
    notebook.cells.insert(0, env_cell)
    # the kernel's channels are Unix sockets: a TCP port picked for it could be taken before it binds (conftest.py)
    with tempfile.TemporaryDirectory(prefix="llk-") as sockets:
        kernel = KernelManager(kernel_name="python3", transport="ipc",
                               connection_file=os.path.join(sockets, "kernel.json"))
        client = NotebookClient(notebook, km=kernel, timeout=timeout, allow_errors=True,
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute(cleanup_kc=True)  # shut the kernel down after its notebook, as with a kernel of its own
        except CellExecutionError as error:  # a timeout or a dead kernel
            return [f"kernel: {str(error).splitlines()[0]}"]
    errors = []
    for index, cell in enumerate(notebook.cells[1:]):
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                errors.append(f"cell {index}: {output.ename}: {output.evalue[:300]}")
    return errors


# after every lesson's own clean-up, a final lab.cleanup() (what a learner runs when done), then what is left
_LEFTOVERS = """
import json, os, boto3, lambda_lab
lab = lambda_lab.Lab(backend="endpoint", quiet=True)
lab.cleanup()
lab.stop()
region = os.environ["AWS_DEFAULT_REGION"]  # the run's Region: what a learner there would have left
def c(service):
    return boto3.client(service, region_name=region)
kms = c("kms")
left = {
    "functions": [f["FunctionName"] for f in c("lambda").list_functions()["Functions"]],
    "layers": [x["LayerName"] for x in c("lambda").list_layers()["Layers"]],
    "event source mappings": [m["UUID"] for m in c("lambda").list_event_source_mappings()["EventSourceMappings"]],
    "queues": c("sqs").list_queues().get("QueueUrls", []),
    "topics": [t["TopicArn"] for t in c("sns").list_topics()["Topics"]],
    "tables": c("dynamodb").list_tables()["TableNames"],
    "buckets": [b["Name"] for b in c("s3").list_buckets()["Buckets"]],
    "roles": [r["RoleName"] for r in c("iam").list_roles()["Roles"]],
    "rules": [r["Name"] for r in c("events").list_rules()["Rules"]],
    "schedules": [x["Name"] for x in c("scheduler").list_schedules()["Schedules"]],
    "REST APIs": [x["name"] for x in c("apigateway").get_rest_apis()["items"]],
    "HTTP APIs": [x["Name"] for x in c("apigatewayv2").get_apis()["Items"]],
    "stacks": [x["StackName"] for x in c("cloudformation").list_stacks()["StackSummaries"]
               if x["StackStatus"] != "DELETE_COMPLETE"],
    "KMS keys not scheduled for deletion": [k["KeyId"] for k in kms.list_keys()["Keys"]
                                            if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"]
                                            not in ("PendingDeletion",)],
    "alarms": [a["AlarmName"] for a in c("cloudwatch").describe_alarms()["MetricAlarms"]],
    "secrets": [x["Name"] for x in c("secretsmanager").list_secrets()["SecretList"]],
    "CodeDeploy applications": c("codedeploy").list_applications()["applications"],
    "VPCs": [v["VpcId"] for v in c("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")],
    "security groups": [g["GroupId"] for g in c("ec2").describe_security_groups()["SecurityGroups"]
                        if g["GroupName"] != "default"],
}
print(json.dumps({kind: names for kind, names in left.items() if names}))
"""


def leftovers(url: str, home: Path, region: str = "us-east-1") -> dict:
    """What the account holds after a final lab.cleanup()."""
    env = {**os.environ, **_account_env(url, home, region)}
    result = subprocess.run([sys.executable, "-c", _LEFTOVERS], env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        return {"(the final clean-up failed)": [result.stderr.strip().splitlines()[-1] if result.stderr else "?"]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--region", default="us-east-1", help="the learners' Region (default us-east-1)")
    parser.add_argument("--concurrency", type=int, default=1000,
                        help="the account's concurrency quota (default 1000; 10 rehearses a new account)")
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"lambda-lab-remote-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    server, url, door = _start_server(home, args.concurrency, args.region)
    failed, left = 0, {}
    try:
        for path in paths:
            start = time.time()
            errors = run(path, url, door, home, args.timeout, args.region)
            failed += bool(errors)
            print(f"{'FAIL' if errors else 'ok  '} {path.name} ({time.time() - start:.0f} s)", flush=True)
            for error in errors:
                print("     " + error.replace("\n", " "), flush=True)
        left = leftovers(url, home, args.region) if not args.notebooks else {}  # a partial run leaves the rest to later ones
        for kind, names in left.items():
            print(f"LEFT {kind}: {', '.join(map(str, names[:10]))}", flush=True)
        if not args.notebooks:
            print("account empty after clean-up" if not left else "the account is not empty after clean-up")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)
    return 1 if failed or left else 0


if __name__ == "__main__":
    sys.exit(main())
