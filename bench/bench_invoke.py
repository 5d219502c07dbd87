"""How much a local invoke costs, measured in one run on one machine.

    .venv/bin/python bench/bench_invoke.py [--n 300]

Prints the median and p95 of: a warm invoke of a trivial handler through boto3; a boto3 get_function on
the same lab (the floor: what any call on the mock costs); their ratio; a cold start (first invoke of a new
function, through boto3); and the same trivial handler through python-lambda-local, as a peer.
Target: warm invoke at most 1.5x the floor; cold start well under half a second.
"""

import argparse
import logging
import statistics
import sys
import time
import warnings

import boto3

import lambda_lab

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
PRINTER = "def handler(event, context):\n    print('handling', event)\n    return {'ok': True}\n"  # most lessons' kind


def timed(fn, n):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def peer(n):
    """python-lambda-local runs each call in a fresh forked process."""
    from lambda_local.context import Context
    from lambda_local.main import call

    logging.getLogger().setLevel(logging.WARNING)
    namespace = {}
    exec(HANDLER, namespace)
    return timed(lambda: call(namespace["handler"], {}, Context(3)), n)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--cold", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = {}
    with lambda_lab.Lab(quiet=True) as lab:
        lam = boto3.client("lambda")
        code = {"ZipFile": lambda_lab.zip_source(HANDLER)}
        for name, package in (("bench", code), ("bench-prints", {"ZipFile": lambda_lab.zip_source(PRINTER)})):
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code=package)
        for _ in range(20):  # warm the environments and every cache on the path
            lam.invoke(FunctionName="bench", Payload=b"{}")
            lam.invoke(FunctionName="bench-prints", Payload=b"{}")
            lam.get_function(FunctionName="bench")
        # interleave them so that drift on the machine hits all alike
        warm, prints, floor = [], [], []
        for _ in range(args.n):
            warm += timed(lambda: lam.invoke(FunctionName="bench", Payload=b"{}"), 1)
            prints += timed(lambda: lam.invoke(FunctionName="bench-prints", Payload=b"{}"), 1)
            floor += timed(lambda: lam.get_function(FunctionName="bench"), 1)
        rows["warm invoke (boto3)"] = summary(warm)
        rows["warm invoke, handler prints"] = summary(prints)
        rows["get_function (floor)"] = summary(floor)
        cold, init = [], []
        for i in range(args.cold):
            name = f"cold-{i}"
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code=code)
            cold += timed(lambda: lam.invoke(FunctionName=name, Payload=b"{}"), 1)
            init.append(lab.invocations[-1].result.init_ms)
        rows["cold start invoke (boto3)"] = summary(cold)
        rows["  of which Init Duration"] = summary(init)
    rows["python-lambda-local call"] = summary(peer(min(args.n, 100)))

    print(f"lambda-lab invoke benchmark  (Python {sys.version.split()[0]}, n={args.n}, cold n={args.cold})")
    print(f"{'':32}{'median ms':>12}{'p95 ms':>10}")
    for label, (median, p95) in rows.items():
        print(f"{label:32}{median:12.3f}{p95:10.3f}")
    ratio = rows["warm invoke (boto3)"][0] / rows["get_function (floor)"][0]
    print(f"\nwarm invoke / floor (median): {ratio:.2f}x   (target <= 1.5x)")
    print(f"cold start (median): {rows['cold start invoke (boto3)'][0]:.0f} ms   (target well under 500 ms)")


if __name__ == "__main__":
    main()
