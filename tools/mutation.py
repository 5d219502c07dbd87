"""Mutation run over the lab's core modules with mutmut, in a copy of the tree (not in CI: it takes hours).

    .venv/bin/python tools/mutation.py                      # every core module, one worker
    .venv/bin/python tools/mutation.py pricing _model      # some of them (a name, path tail or path)
    .venv/bin/python tools/mutation.py --diffs --workers 2  # show each survivor's diff
    .venv/bin/python tools/mutation.py --resume /tmp/lambda-lab-mutation-XXXX [--summary]  # after Ctrl-C
    .venv/bin/python tools/mutation.py --resume /tmp/lambda-lab-mutation-XXXX --recheck     # see below
    .venv/bin/python tools/mutation.py service/_invoke.py --only '*ǁ_still_busy*'  # some mutants (after a change)

Each module is mutated in its own fresh copy of the tracked and new files (the working tree is never
touched), against only the test files that exercise it (MODULES below). mutmut forks each mutant's pytest
from a fork server that has imported and collected the tests but run none, because the tests start
threads, HTTP servers and worker processes that a fork of a used pytest process would inherit half-made.
Survivors listed in EQUIVALENT below are reported apart, with why they cannot change what a learner sees.

mutmut runs a mutant only against the tests it saw call the mutated function, and it sees a call in the test
that was running at the time: a module-scoped fixture's setup (the `lab` that builds LambdaService) counts for
that module's first test alone, and calls made in the lab's threads count for none ("no tests"). `--recheck`
therefore runs each survivor once more against the module's whole selection (stopping at the first failure),
and records the ones that fail it as killed.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = "mutmut==3.8.1"

# module -> test files (globs) that check it, and pytest options (starting with "-"); keep these small: every
# mutant reruns the tests that reach it
MODULES = {
    "lambda_lab/pricing.py": ["tests/test_pricing.py", "tests/test_widgets.py", "tests/test_pricing_*.py"],
    "lambda_lab/runtime/_model.py": ["tests/test_model*.py", "tests/test_invoke.py"],
    "lambda_lab/service/_deliver.py": ["tests/test_deliver*.py", "tests/test_async.py"],
    # retries, ordering and the metrics of received, aged and dropped events; the 2,000-event load test is left
    # out: it takes a minute per survivor and checks the same code as the retry tests
    "lambda_lab/service/_async.py": ["tests/test_async*.py", "tests/test_deliver*.py",
                                     "tests/test_metrics.py::test_asynchronous_events_received_aged_and_dropped",
                                     "tests/test_metrics.py::test_a_successful_asynchronous_event_is_received_and_"
                                     "not_dropped",
                                     "tests/test_metrics.py::test_only_the_delivery_that_failed_is_counted_and_"
                                     "under_its_own_metric",
                                     "--deselect=tests/test_async.py::test_nothing_is_lost_under_load"],
    # concurrency, throttles, history and alias routing are tested beside the API rules and the metrics
    "lambda_lab/service/_invoke.py": ["tests/test_invoke*.py", "tests/test_service.py", "tests/test_errors.py",
                                      "tests/test_api_runtime_rules.py", "tests/test_metrics.py",
                                      "tests/test_provisioned.py", "tests/test_xray.py", "tests/test_api_rules.py",
                                      "tests/test_async.py", "tests/test_mappings_depth.py", "tests/test_triggers.py",
                                      "tests/test_event_sources_new.py",
                                      "--deselect=tests/test_async.py::test_nothing_is_lost_under_load",
                                      "tests/test_alarms.py::test_a_lambda_alarm_action_needs_permission_and_gets_"
                                      "the_alarm_event",
                                      "tests/test_hardening_packages.py::test_the_invocation_history_keeps_whole_"
                                      "logs_only_for_the_newest"],
    # environments: reuse, retirement, idle expiry and provisioned ones
    # (the Ctrl-C test sends SIGINT to its own process: in mutmut's forked children it is not always raised as
    # KeyboardInterrupt, and the clean run then fails; the suite runs it)
    "lambda_lab/runtime/_engine.py": ["tests/test_engine.py", "tests/test_invoke.py", "tests/test_hostile.py",
                                      "tests/test_provisioned.py", "tests/test_hardening_runtime.py",
                                      "tests/test_service.py", "tests/test_errors.py",
                                      "--deselect=tests/test_hardening_runtime.py::test_interrupted_invoke_and_"
                                      "init_retire_the_environment"],
}

# survivors judged equivalent: mutant name -> why no test can tell it from the original. mutmut numbers the
# mutants of each function in order, so after a change to a function re-judge its entries here.
_Q = "lambda_lab.service._async.xǁAsyncQueueǁ"
_E = "lambda_lab.runtime._engine.xǁRuntimeǁ"
_POOL = "the pool's size and thread names bound the lab's own threads; Lambda's concurrency is enforced by the service"
_ERR = "every failed result's payload is the runtime's JSON error object with an errorMessage: the default is unreachable"
_S3 = "an S3 ARN names no region and the lab's buckets share one namespace: any region name reaches the bucket"
EQUIVALENT: dict[str, str] = {
    "lambda_lab.runtime._model.x_modelled_duration_ms__mutmut_18":
        "cpu / p -> cpu * p: when cpu > wall, cpu / p == wall, so off-CPU time is 0 either way",
    _Q + "__init____mutmut_1": _POOL, _Q + "__init____mutmut_7": _POOL, _Q + "__init____mutmut_8": _POOL,
    _Q + "__init____mutmut_9": _POOL, _Q + "__init____mutmut_10": _POOL, _Q + "__init____mutmut_11": _POOL,
    _Q + "__init____mutmut_12": _POOL,
    **{_Q + f"shutdown__mutmut_{i}": "lab.stop() only: with no event in flight (how lessons and tests end) wait and "
       "cancel_futures change nothing; with one, only how soon stop() returns" for i in range(1, 7)},
    _Q + "__init____mutmut_4": "the history bound (20,000 events) is reached only by a test of minutes",
    _Q + "__init____mutmut_5": "the history bound (20,000 events) is reached only by a test of minutes",
    "lambda_lab.service._async.x__error_message__mutmut_2": _ERR,
    "lambda_lab.service._async.x__error_message__mutmut_4": _ERR,
    "lambda_lab.service._async.x__error_message__mutmut_9": _ERR,
    "lambda_lab.service._async.x__error_message__mutmut_10": _ERR,
    "lambda_lab.service._deliver.x_send_record__mutmut_19": "the lab has one account: the queue owner is the caller",
    "lambda_lab.service._deliver.x_send_record__mutmut_129": _S3,
    "lambda_lab.service._deliver.x_send_record__mutmut_135": _S3, "lambda_lab.service._deliver.x_send_record__mutmut_136": _S3,
    **{f"lambda_lab.service._deliver.x_send_record__mutmut_{i}": "the API refuses a destination of any other service "
       "when it is set (_event_config), so this last `else` cannot be reached" for i in range(137, 144)},
    "lambda_lab.service._deliver.x_send_to_dead_letter__mutmut_88": "the API refuses a dead-letter target of any "
       "other service when it is set (_lambda_api._delivery_checks), so this raise cannot be reached",
    "lambda_lab.service._deliver.x_send_to_dead_letter__mutmut_63": "the lab has one account: the queue owner is the caller",
    **{f"lambda_lab.service._async.x__json_or_text__mutmut_{i}": "only JSON reaches a record (Invoke refuses other "
       "payloads, the runtime serialises responses): the text fallback is unreachable" for i in (4, 5, 6)},
    "lambda_lab.pricing.x_provisioned_estimate__mutmut_83": "rounding at 10 or 11 decimal places of a dollar: "
       "only to compare sums that are equal by hand; no figure shows below $0.0000001",
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁinvoke__mutmut_{i}": "HTTP header names are case-insensitive "
       "(botocore reads them lowercased)" for i in (80, 81, 101, 102, 126, 127, 133, 134, 144, 145)},
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁinvoke__mutmut_{i}": "the invocation type's default: every "
       "caller names the type (the API from its header, the lab's sources explicitly)" for i in (1, 2, 3)},
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁwait_for_async__mutmut_{i}": "a poll interval: how soon "
       "wait_for_async notices progress, not what it returns" for i in (8, 9)},
    # (LambdaService.__init__ re-judged after its iam_delay_s argument shifted mutmut's numbers)
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁ__init____mutmut_{i}": "a default install() always overrides "
       "(the busy window, the IAM delay)" for i in (1, 2)},
    "lambda_lab.service._invoke.xǁLambdaServiceǁ__init____mutmut_13": "a 1-character shift in the 16 M-character "
       "bound of whole logs kept in the history",
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁ__init____mutmut_{i}": "any fixed offset keeps the request ids' "
       "generator apart from the routing one, and repeatable" for i in (21, 22)},
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁ__init____mutmut_{i}": "the bound of lab.refusals is reached "
       "only after 1,000 refused pushes" for i in (49, 50)},
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁinvoke__mutmut_{i}": "moto sends None as an empty body, as "
       "b'' is" for i in (48, 74)},
    "lambda_lab.service._invoke.xǁLambdaServiceǁroute__mutmut_3": "resolve() always names a version: the "
       "'$LATEST' fallback is never used",
    "lambda_lab.service._invoke.xǁLambdaServiceǁroute__mutmut_4": "resolve() always names a version: the "
       "'$LATEST' fallback is never used",
    "lambda_lab.service._invoke.xǁLambdaServiceǁroute__mutmut_6": "< or <= against a uniform draw: a measure-zero "
       "difference",
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁroute__mutmut_{i}": "an alias routes to at most one additional "
       "version (the API refuses more), so the loop never reads the updated draw" for i in (8, 9)},
    "lambda_lab.service._invoke.xǁLambdaServiceǁrun__mutmut_36": "trace is set before it is read unless "
       "config_for raises, which no resolved target does",
    "lambda_lab.service._invoke.xǁLambdaServiceǁ_remember__mutmut_7": "> or >= against a 16 M-character bound",
    **{f"lambda_lab.service._invoke.xǁLambdaServiceǁrun__mutmut_{i}": "_enter has just set the function's count: "
       "get()'s default is never used" for i in (32, 34, 35)},
    "lambda_lab.service._invoke.xǁLambdaServiceǁwait_for_async__mutmut_1": "the default timeout: every caller "
       "passes one (Lab.wait_for_async's 'auto' is 60 s)",
    "lambda_lab.service._invoke.xǁLambdaServiceǁ_remember__mutmut_8": "differs only when the newest invocation "
       "alone logged over 16 M characters: its whole log or its tail, both acceptable views",
    "lambda_lab.service._invoke.xǁLambdaServiceǁ_remember__mutmut_9": "differs only when the newest two logs "
       "alone exceed 16 M characters",
    "lambda_lab.service._invoke.xǁLambdaServiceǁwait_for_async__mutmut_28": "> or >= against a monotonic deadline",
    **{f"lambda_lab.service._invoke.x_decode_client_context__mutmut_{i}": "lenient base64 (validate left out or "
       "False) still refuses every malformed ClientContext AWS documents; AWS's handling of stray characters is "
       "undocumented" for i in (7, 8)},
    "lambda_lab.service._invoke.xǁLambdaServiceǁwait_for_async__mutmut_42": "> or >= before advancing the clock by "
       "the difference: advancing by 0 changes nothing",
    "lambda_lab.service._invoke.xǁLambdaServiceǁ_still_busy__mutmut_13": "a floor of 0 or 1 under a countdown shown "
       "in whole seconds: differs only for a retry due within the second, which the next poll runs",
    "lambda_lab.service._invoke.xǁLambdaServiceǁ__init____mutmut_10": "the history's bound is reached only after "
       "20,000 invocations (30 s of warm invokes for one test)",
    **{_Q + f"{name}__mutmut_{i}": "the service's one caller passes no client context: Lambda passes ClientContext "
       "to synchronous invocations only" for name, i in (("submit", 28), ("_start", 11), ("_later", 11),
                                                         ("_attempt", 4), ("_try", 62), ("_try", 124), ("_try", 211))},
    **{_Q + f"_try__mutmut_{i}": "the age check as an attempt starts: every retry and throttle back-off is checked "
       "before it is scheduled (the ahead checks, whose mutants are killed), so an event reaches this one only when "
       "its MaximumEventAgeInSeconds is lowered while it waits (AWS does not document which limit applies then) "
       "or a timer fires late on a running clock" for i in range(25, 39)},
    _Q + "_try__mutmut_41": "the age metric's time: None means the clock's now, the instant _try() has just read",
    **{_Q + f"_count_outcome__mutmut_{i}": "the outcome metrics' time: None means the clock's now, the instant "
       "just read" for i in (1, 8, 20)},
    _Q + "_try__mutmut_104": "a throttled event that its next retry would make too old is given up at once or when "
       "that retry comes due (the attempt-start check): the attempts, outcome and records are the same but the "
       "record's timestamp, and AWS documents neither moment",
    _Q + "submit__mutmut_15": "the received metric's time: None means the clock's now, the instant submit() has "
       "just stamped the event with",
    _Q + "_finish__mutmut_74": "success None or False: send_record only tests whether it is true",
    # runtime/_engine.py
    _E + "__init____mutmut_1": "the default idle timeout: install() always passes its own",
    _E + "__init____mutmut_2": "a laptop's guard of the lab's own (Lambda has none): one environment more before the "
       "oldest idle one closes; a test would start 64 environments to see it",
    **{_E + f"__init____mutmut_{i}": "the scratch folder's name prefix: no behaviour reads it" for i in (17, 18, 19)},
    _E + "__init____mutmut_33": "_stopped None or False: both falsy, and stop() sets True",
    _E + "invoke__mutmut_15": "a warm invoke's init events: read only when there is an init (text and JSON logs)",
    **{_E + f"invoke__mutmut_{i}": "the interrupted environment's kill reason: its outcome is never read (the "
       "exception propagates); only 'timeout', 'oom' and 'init-error' are compared" for i in (61, 62, 63)},
    **{_E + f"expire_idle__mutmut_{i}": "< or <= against a monotonic cutoff" for i in (7, 9)},
    _E + "provision__mutmut_1": "a count of 0 kept as 0 or removed: every reader takes a missing count as 0",
    **{_E + f"_drop_provisioned__mutmut_{i}": "a live count of 0 kept or removed: provisioned_ready reads a missing "
       "one as 0" for i in (3, 5, 7)},
    _E + "_start_provisioned__mutmut_88": "a 0.1 % scale error in a failed init's measured wall time",
    _E + "_acquire__mutmut_7": "the provisioned pools are empty whenever no count is wanted (provision(..., 0), "
       "retire() and stop() empty them): the shortcut changes nothing",
    _E + "_release__mutmut_2": "replace None or False: both falsy",
    _E + "_release__mutmut_17": "a provisioned environment is put back only while its count is wanted, and the pool's "
       "entry exists from provision()'s first start until retire() removes both",
    **{_E + f"_release__mutmut_{i}": "a replacement thread runs provision(config, the count already wanted), which "
       "starts only what is missing: with nothing missing it returns at once" for i in (3, 23, 25, 30)},
    **{_E + f"_release__mutmut_{i}": "the replacement thread's name (seen only in a debugger) or daemon flag (it ends "
       "after one environment's start)" for i in (50, 51, 55, 62, 63)},
    **{_E + f"_release__mutmut_{i}": "replace is true only while the config's count is wanted: the default is never "
       "used" for i in (57, 59, 60)},
    **{_E + f"_finish__mutmut_{i}": "a handler that ends in the instant between its modelled time running out and "
       "the watchdog's next check (every few ms): no test can place it there"
       for i in (17, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28)},
    **{_E + f"_finish__mutmut_{i}": "the INIT_START line of a warm invoke: computed but never written"
       for i in (134, 140)},
    **{_E + f"_unavailable__mutmut_{i}": "the stream's date from the start or from now: they differ only across "
       "midnight UTC" for i in (13, 17)},
    **{_E + f"_extract_layers__mutmut_{i}": "the key archive's bytes are never read (_extract unpacks the layers)"
       for i in (4, 10)},
    _E + "_extract_layers__mutmut_9": "any separator gives each ordered list of layers its own key",
    **{_E + f"_extract_layers__mutmut_{i}": "the name of the layers' folder in the scratch space: no behaviour reads "
       "it" for i in (17, 18)},
    _E + "_extract__mutmut_7": "the staging folder in the system's temporary folder or in the scratch space, which "
       "is itself made there: the same file system, so the rename works either way",
    **{_E + f"_extract__mutmut_{i}": "removing a staging folder that exists raises no error to ignore"
       for i in (16, 17)},
    **{_E + f"_extract__mutmut_{i}": "the scratch space exists, so the kind's folder needs no parents made"
       for i in (18, 22)},
    **{_E + f"_extract__mutmut_{i}": "reached only when two threads unpack the same package at the same instant"
       for i in (25, 26, 28, 29)},
    _E + "_warn_python_version__mutmut_24": "the warning's line number under the name lambda_lab: 0 or 1",
    "lambda_lab.runtime._engine.x__expire_on_schedule__mutmut_1": "differs only once the runtime is collected, "
       "when the thread ends either way (an AttributeError or the loop's test)",
    **{f"lambda_lab.runtime._engine.x__expire_on_schedule__mutmut_{i}": "when the expiry thread wakes: an idle "
       "environment closes late (up to a second, or one idle timeout) or the thread polls more often; seeing it "
       "needs a wall-clock bound, which #17 keeps out of tests/" for i in (4, 10, 13, 16, 21, 22)},
    "lambda_lab.service._deliver.x_send_record__mutmut_95":
        "s3 and not success -> s3 or not success: differs only for an OnSuccess S3 destination, which the API refuses",
}

# a pytest plugin for the copy: run the quickest test files, and in each the quickest tests, first, so that
# a mutant most tests kill dies in a second instead of after the slow end-to-end files (-x stops at the kill)
QUICK_FIRST = '''
import json, pathlib, statistics


def pytest_collection_modifyitems(session, config, items):
    try:
        took = json.loads(pathlib.Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(took.get(item.nodeid, 1.0))
    mean = {f: statistics.mean(d) for f, d in files.items()}
    items.sort(key=lambda item: (mean[item.nodeid.split("::")[0]], took.get(item.nodeid, 1.0)))
'''

KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", None: "not checked"}


def ensure_mutmut() -> None:
    try:
        import mutmut  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", MUTMUT], check=True)


def copy_tree(dest: Path) -> None:
    """Tracked files and new, unignored ones (a helper's new test file counts), as they are right now."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def configure(copy: Path, module: str, tests: list[str]) -> None:
    settings = {
        "source_paths": ["lambda_lab"],
        "only_mutate": [module],
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-n", "0", "--timeout", "20", "-p", "_quick_first"],
        "also_copy": ["_quick_first.py"],
        "pytest_add_cli_args_test_selection": tests,
        "process_isolation": "forkserver",  # see the module docstring
        "use_git_change_detection": False,  # the copy is no git checkout
        # pytest's output goes to mutmut.log: otherwise a failing clean run says only "Failed to run clean test"
        # (this is how the Ctrl-C test's failure in mutmut's children, see MODULES, was found)
        "debug": True,
    }
    (copy / "_quick_first.py").write_text(QUICK_FIRST)
    with open(copy / "pyproject.toml", "a") as f:
        f.write("\n[tool.mutmut]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))


def recheck(copy: Path, codes: dict, workers: int) -> None:
    """Run survivors and "no tests" mutants against the whole selection; record the ones it kills."""
    from concurrent.futures import ThreadPoolExecutor

    settings = (copy / "pyproject.toml").read_text()
    tests = json.loads(re.search(r"pytest_add_cli_args_test_selection = (\[.*\])", settings)[1])
    args = json.loads(re.search(r"pytest_add_cli_args = (\[.*\])", settings)[1])
    env = {**os.environ, "CI": "", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    doubtful = [name for name, code in codes.items() if code in (0, 33) and name not in EQUIVALENT]

    def one(name: str) -> tuple[str, int]:
        run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", *args, *tests], cwd=copy / "mutants",
                             env={**env, "MUTANT_UNDER_TEST": name}, capture_output=True, timeout=1800)
        return name, run.returncode

    # a test that fails without any mutant (say, one copied in for code the copy does not have) would "kill" them all
    _, code = one("")
    if code != 0:
        raise SystemExit(f"the selection fails in {copy / 'mutants'} with no mutant (pytest exit {code}): "
                         "no recheck can count a kill until it passes")

    with ThreadPoolExecutor(workers) as pool:
        for name, code in pool.map(one, doubtful):
            if code == 1:
                codes[name] = 1
            print(f"   recheck {'killed  ' if code == 1 else 'survived'} {name}", flush=True)


def run_module(module: str, workers: int, diffs: bool, keep: bool, resume: Path | None = None,
               summary: bool = False, rechecking: bool = False, only: list[str] | None = None) -> dict:
    copy = resume or Path(tempfile.mkdtemp(prefix="lambda-lab-mutation-"))
    try:
        if resume:  # mutmut keeps each verdict in the copy and runs only the mutants that have none
            tests = ["(as configured in the copy)"]
            keep = True
        else:
            copy_tree(copy)
            tests = sorted({t for pattern in MODULES[module] if not pattern.startswith("-")
                            for t in ([pattern] if "::" in pattern else glob.glob(pattern, root_dir=copy))})
            tests += [option for option in MODULES[module] if option.startswith("-")]
            configure(copy, module, tests)
        env = {**os.environ, "CI": "", "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONPATH", None)
        print(f"== {module}  ({' '.join(tests)})  in {copy}", flush=True)
        command = ["true"] if summary or rechecking else [sys.executable, "-m", "mutmut", "run", "--max-children",
                                                          str(workers), *(only or [])]
        log = copy / "mutmut.log"  # every mutant's pytest output (debug above): large, so not kept in memory
        with open(log, "ab") as out:
            run = subprocess.run(command, cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT)
        meta = copy / "mutants" / (module + ".meta")
        if run.returncode != 0 or not meta.exists():  # e.g. a failed clean run: no verdict after it counts
            print(log.read_bytes()[-3000:].decode(errors="replace"))
            raise SystemExit(f"mutmut did not finish {module} (exit {run.returncode}); its output: {log}")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if only:  # the named mutants alone are reported (mutmut leaves the others unchecked)
            codes = {name: code for name, code in codes.items() if any(fnmatch.fnmatch(name, o) for o in only)}
        if rechecking:
            recheck(copy, codes, workers)
            data = json.loads(meta.read_text())
            data["exit_code_by_key"] = codes
            meta.write_text(json.dumps(data))
        by_status: dict[str, list[str]] = {}
        for name, code in sorted(codes.items()):
            status = KILLED.get(code) or STATUS.get(code, f"suspicious ({code})")
            if status in ("survived", "no tests") and name in EQUIVALENT:
                status = "equivalent"
            by_status.setdefault(status, []).append(name)
        if diffs:
            for name in by_status.get("survived", []) + by_status.get("no tests", []):
                shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=copy, env=env,
                                       capture_output=True, text=True)
                print(shown.stdout.strip(), flush=True)
        return by_status
    finally:
        if keep:
            print(f"   kept {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all, in MODULES order)")
    parser.add_argument("--workers", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's diff")
    parser.add_argument("--keep", action="store_true", help="keep the copies (to rerun `mutmut show` there)")
    parser.add_argument("--resume", type=Path, help="a kept copy: finish its run (after an interruption)")
    parser.add_argument("--summary", action="store_true", help="with --resume: only print what the copy holds")
    parser.add_argument("--only", nargs="+", metavar="GLOB",
                        help="only these mutants, e.g. 'lambda_lab.service._invoke.xǁLambdaServiceǁ_still_busy*'")
    parser.add_argument("--recheck", action="store_true",
                        help="with --resume: run the survivors against the whole selection (see the docstring)")
    args = parser.parse_args()
    if args.resume:
        args.modules = [re.search(r'only_mutate = \["(.+?)"\]', (args.resume / "pyproject.toml").read_text())[1]]
    chosen = [m for m in MODULES if not args.modules or any(m.endswith(a if a.endswith(".py") else a + ".py")
                                                             or m == a for a in args.modules)]
    if not chosen:
        raise SystemExit(f"no core module matches {args.modules}; choose from {', '.join(MODULES)}")
    ensure_mutmut()
    total = {"killed": 0, "counted": 0}
    rows, survivors = [], []
    for module in chosen:
        by_status = run_module(module, args.workers, args.diffs, args.keep, args.resume, args.summary, args.recheck,
                               args.only)
        n = {s: len(v) for s, v in by_status.items()}
        caught = n.get("killed", 0) + n.get("timeout", 0)
        counted = sum(n.values()) - n.get("equivalent", 0) - n.get("not checked", 0)
        total["killed"] += caught
        total["counted"] += counted
        rows.append(f"{module:<34} {n.get('killed', 0):>6} {n.get('survived', 0) + n.get('no tests', 0):>8} "
                    f"{n.get('timeout', 0):>7} {n.get('equivalent', 0):>10} {caught / max(counted, 1):>7.1%}"
                    + (f"  ({n['not checked']} not checked: interrupted)" if n.get("not checked") else ""))
        survivors += [(module, s, name) for s, names in by_status.items()
                      if s not in ("killed", "timeout", "not checked")
                      for name in names]
        print(rows[-1], flush=True)
    print(f"\n{'module':<34} {'killed':>6} {'survived':>8} {'timeout':>7} {'equivalent':>10} {'score':>7}")
    print("\n".join(rows))
    print(f"{'overall':<34} {'':>33} {total['killed'] / max(total['counted'], 1):>7.1%}"
          f"  ({total['killed']} of {total['counted']} not judged equivalent)")
    for module, status, name in survivors:
        print(f"  {status:<10} {name}" + (f"  -- {EQUIVALENT[name]}" if status == "equivalent" else ""))


if __name__ == "__main__":
    main()
