"""A stand-in AWS account on this machine: a moto server whose Lambda runs handlers on the lab's runtime.

    .venv/bin/python tools/standin_account.py [--port 5000]

Then, in another terminal or a notebook's environment:

    LAMBDA_LAB_BACKEND=endpoint AWS_ENDPOINT_URL=http://127.0.0.1:5000 LAMBDA_LAB_FRONT_DOOR=<its second URL> \
        ./run.py lab

Every lesson then talks to it as to a remote account: over HTTP, with the views rebuilt from CloudWatch Logs
and deliveries, and with `lab.cleanup()` removing only what the lab made. It is what
tools/run_notebooks_remote.py runs the course against; its clock runs 60 times faster than real time, as the
local lab's does, so retries and schedules arrive in minutes rather than hours.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

import lambda_lab
from lambda_lab._lab import LESSON_POLICIES
from lambda_lab.service import provide_managed_policies
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"  # moto's default account
# AWS needs a second or more to set up a function; a notebook that invokes or updates again without waiting
# fails here as on AWS (a waiter's first look ends the wait, so waiting costs nothing: _function_states.py)
BUSY_S = 5.0
# a new role or policy reaches Lambda a few seconds late on AWS; lab.wait_for_iam retries on the answers it gets
IAM_S = 2.0


def start(port: int = 0, busy_s: float = BUSY_S, concurrency: int = 1000, region: str | None = None,
          iam_s: float = IAM_S):
    """Start the server and the lab's runtime under it: (server, its URL, the runtime's engine for front_door()).

    `busy_s`: how long a new function stays Pending and an update InProgress, unless a waiter looks first;
    `concurrency`: the account's concurrency quota (a new AWS account's can be 10); `region`: where the front
    door's APIs and function URLs are (the learners' Region; default AWS_DEFAULT_REGION, else us-east-1);
    `iam_s`: how long a new role or policy takes to reach Lambda."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    engine = lambda_lab.install(busy_window_s=busy_s, account_concurrency=concurrency, iam_delay_s=iam_s)
    provide_managed_policies(ACCOUNT, LESSON_POLICIES)  # the AWS managed policies the lessons attach
    host, bound = server.get_host_and_port()
    url = f"http://{host}:{bound}"
    # the lab's own calls in this process (deliveries, pollers, checks of roles) reach the account over HTTP too
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="standin", AWS_SECRET_ACCESS_KEY="standin")
    os.environ["AWS_DEFAULT_REGION"] = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return server, url, engine


def front_door(engine):
    """Where the account's APIs and function URLs answer: the lab's front door, in this process (AWS's
    hostnames do not resolve here). Labs find it through LAMBDA_LAB_FRONT_DOOR, as lab.rest_api_url() etc. say."""
    from lambda_lab.service._front_door import FrontDoor

    signer = {"AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"]}
    return FrontDoor(clock=engine.service.clock,
                     credentials=lambda: [signer, engine.credentials, *engine.execution_credentials.sessions()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--busy-seconds", type=float, default=BUSY_S,
                        help=f"how long a new function is Pending, an update InProgress (default {BUSY_S})")
    parser.add_argument("--concurrency", type=int, default=1000,
                        help="the account's concurrency quota (default 1000; try 10, a new account's)")
    parser.add_argument("--region", help="the Region whose APIs and function URLs the front door serves "
                        "(default AWS_DEFAULT_REGION, else us-east-1)")
    parser.add_argument("--iam-seconds", type=float, default=IAM_S,
                        help=f"how long a new role or policy takes to reach Lambda (default {IAM_S})")
    args = parser.parse_args()
    server, url, engine = start(args.port, args.busy_seconds, args.concurrency, args.region, args.iam_seconds)
    door = front_door(engine)
    print(f"stand-in account {ACCOUNT} at {url} (APIs and function URLs at {door.url})", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        door.stop()
        lambda_lab.uninstall()
        server.stop()


if __name__ == "__main__":
    main()
