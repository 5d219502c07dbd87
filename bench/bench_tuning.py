"""How long a power-tuning sweep takes in the lab, measured in one run on one machine.

    .venv/bin/python bench/bench_tuning.py [--invocations 10] [--repeat 3]

Sweeps the default six memory sizes (128 ... 3008 MB) with 10 warm invocations each, for a handler that
sleeps 20 ms and for one that burns 20 ms of CPU, and prints the median wall time of a whole sweep (set-up,
cold starts, invocations and clean-up) beside the floor: 60 x 20 ms = 1.2 s of handler time.
"""

import argparse
import statistics
import sys
import time
import warnings

import boto3

import lambda_lab
from lambda_lab.tuning import power_tune

HANDLERS = {
    "sleep 20 ms": "import time\ndef handler(event, context):\n    time.sleep(0.02)\n    return 1\n",
    "CPU 20 ms": ("import time\ndef handler(event, context):\n    start = time.process_time()\n"
                  "    while time.process_time() - start < 0.02:\n        pass\n    return 1\n"),
}
SIZES = (128, 256, 512, 1024, 1536, 3008)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--invocations", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    floor_s = len(SIZES) * args.invocations * 0.02
    print(f"lambda-lab power-tuning benchmark  (Python {sys.version.split()[0]}, {len(SIZES)} sizes x "
          f"{args.invocations} invocations, median of {args.repeat} sweeps)")
    print(f"{'handler':14}{'median s':>10}{'min s':>8}{'floor s':>9}{'overhead/call ms':>18}  recommended (cost)")
    with lambda_lab.Lab(quiet=True) as lab:
        lam = boto3.client("lambda")
        for i, (label, source) in enumerate(HANDLERS.items()):
            name = f"bench-tune-{i}"
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": lambda_lab.zip_source(source)})
            walls = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                result = power_tune(name, memory_sizes=SIZES, invocations=args.invocations, progress=False)
                walls.append(time.perf_counter() - start)
            calls = sum(r["invocations"] + r["cold_starts"] for r in result.table)
            median = statistics.median(walls)
            overhead_ms = (median - floor_s) / calls * 1000
            print(f"{label:14}{median:10.2f}{min(walls):8.2f}{floor_s:9.2f}{overhead_ms:18.1f}  {result.power} MB")


if __name__ == "__main__":
    main()
