"""What warm environments cost while nobody calls them: the CPU their processes use over a quiet spell.

    .venv/bin/python bench/bench_idle.py [--functions 20] [--seconds 10]

A lab keeps each function's environment warm after its first call (a notebook keeps dozens, the test suite
hundreds at a time), so anything an idle environment does runs that many times over. Prints the CPU of the
environments' processes (supervisor and worker), of the lab's own process, per second of quiet.
Target: an idle environment uses no CPU of its own (below the kernel's 10 ms accounting tick).
"""

import argparse
import resource
import time

import boto3
import psutil

import lambda_lab

HANDLER = "def handler(event, context):\n    print('handled')\n    return {'ok': True}\n"


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with lambda_lab.Lab(seed=1, quiet=True) as lab:
        lam = boto3.client("lambda")
        for i in range(args.functions):
            lam.create_function(FunctionName=f"idle-{i}", Runtime="python3.13", Role=lab.role_arn,
                                Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(HANDLER)})
            lam.invoke(FunctionName=f"idle-{i}")
        time.sleep(1.0)  # let the last call's housekeeping end
        environments = psutil.Process().children(recursive=True)
        before = {p.pid: cpu_s(p) for p in environments}
        own = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(args.seconds)
        after = {p.pid: cpu_s(p) for p in environments if p.is_running()}
        own_after = resource.getrusage(resource.RUSAGE_SELF)
    spent = sum(after[pid] - before[pid] for pid in after)
    lab_spent = (own_after.ru_utime + own_after.ru_stime) - (own.ru_utime + own.ru_stime)
    print(f"lambda-lab idle benchmark: {args.functions} warm environments ({len(environments)} processes), "
          f"{args.seconds:g} s of quiet")
    print(f"  environments, all together   {spent * 1000 / args.seconds:8.2f} ms CPU per second")
    print(f"  per environment              {spent * 1000 / args.seconds / args.functions:8.3f} ms CPU per second")
    print(f"  the lab's own process        {lab_spent * 1000 / args.seconds:8.2f} ms CPU per second")


if __name__ == "__main__":
    main()
