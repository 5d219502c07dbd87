"""Nothing a handler does can break the lab: each misdeed gets AWS's answer and the next invoke works."""

import json
import os
import re

import pytest

from conftest import invoke

HOSTILE = {
    "infinite_loop": ("def handler(e, c):\n    while True:\n        pass\n", {"Timeout": 2}),
    "unbounded_allocation": ("def handler(e, c):\n    x = []\n    while True:\n        x.append(bytearray(1 << 22))\n",
                             {"MemorySize": 256, "Timeout": 30}),
    "os_exit": ("import os\ndef handler(e, c):\n    print('bye')\n    os._exit(3)\n", {}),
    "sys_exit": ("import sys\ndef handler(e, c):\n    sys.exit(2)\n", {}),
    "segfault": ("import ctypes\ndef handler(e, c):\n    ctypes.string_at(0)\n", {}),
    "huge_print": ("def handler(e, c):\n    line = 'x' * 999\n    for _ in range(50_000):\n        print(line)\n"
                   "    return 'printed'\n", {"MemorySize": 1769, "Timeout": 60}),
    "non_json_return": ("def handler(e, c):\n    return {1, 2, 3}\n", {}),
    "seven_mb_response": ("def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n", {"MemorySize": 1024}),
    "deep_recursion": ("def f(n):\n    return f(n + 1)\ndef handler(e, c):\n    return f(0)\n", {"MemorySize": 1024}),
    "leftover_threads": ("import threading, time\n"
                         "def spin():\n    while True:\n        time.sleep(0.01)\n"
                         "def handler(e, c):\n    threading.Thread(target=spin).start()\n    return 'left running'\n", {}),
}

EXPECTED = {
    "infinite_loop": ("Sandbox.Timedout", r"RequestId: \S+ Error: Task timed out after 2\.00 seconds"),
    "unbounded_allocation": ("Runtime.ExitError", r"RequestId: \S+ Error: Runtime exited with error: signal: killed"),
    "os_exit": ("Runtime.ExitError", r"RequestId: \S+ Error: Runtime exited with error: exit status 3"),
    "sys_exit": ("Runtime.ExitError", r"RequestId: \S+ Error: Runtime exited with error: exit status 2"),
    "segfault": ("Runtime.ExitError", r"RequestId: \S+ Error: Runtime exited with error: signal: segmentation fault"),
    "huge_print": (None, None),
    "non_json_return": ("Runtime.MarshalError", r"Unable to marshal response: Object of type set is not JSON serializable"),
    "seven_mb_response": ("Function.ResponseSizeTooLarge",
                          r"Response payload size exceeded maximum allowed payload size \(6291556 bytes\)\."),
    "deep_recursion": ("RecursionError", r"maximum recursion depth exceeded.*"),
    "leftover_threads": (None, None),
}


@pytest.fixture(scope="module")
def bystander(lab, lam):
    """A well-behaved function that must keep working whatever its neighbours do."""
    import lambda_lab

    lam.create_function(FunctionName="bystander", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 'fine'\n")})
    return "bystander"


@pytest.mark.skipif(os.name != "posix", reason="segfault and signal names are POSIX")
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_handler_gets_aws_answer_and_lab_survives(lab, lam, make_function, bystander, case):
    source, config = HOSTILE[case]
    name = make_function(source, **config)
    kernel_pid = os.getpid()
    response, payload, log = invoke(lam, name)
    error_type, message = EXPECTED[case]
    assert response["StatusCode"] == 200
    if error_type is None:
        assert "FunctionError" not in response
    else:
        assert response["FunctionError"] == "Unhandled"
        assert payload["errorType"] == error_type
        assert re.fullmatch(message, payload["errorMessage"], re.S), payload["errorMessage"]
    assert log.rstrip().splitlines()[-1].startswith("REPORT RequestId:")
    assert os.getpid() == kernel_pid  # still the same process: the kernel survived
    # the same function answers again, and so does its neighbour
    again = lam.invoke(FunctionName=name, Payload=b"{}")
    assert again["StatusCode"] == 200
    assert json.loads(lam.invoke(FunctionName=bystander, Payload=b"{}")["Payload"].read()) == "fine"


def test_huge_print_keeps_log_bounded_and_tail_exact(lab, lam, make_function):
    name = make_function(HOSTILE["huge_print"][0], **HOSTILE["huge_print"][1])
    _, payload, tail = invoke(lam, name)
    assert payload == "printed"
    assert len(tail.encode()) == 4096 and tail.splitlines()[-3] == "x" * 999  # then END and REPORT
    result = [i for i in lab.invocations if i.function_name == name][-1].result
    assert "characters of log output left out here" in result.log
    assert len(result.log) < 2 * 1024 * 1024  # 50 MB printed, about 1 MB kept


def test_leftover_thread_output_does_not_leak_into_other_functions(lam, make_function):
    name = make_function("""
        import threading, time
        def chatter():
            while True:
                print("background")
                time.sleep(0.005)
        def handler(event, context):
            if event.get("start"):
                threading.Thread(target=chatter, daemon=True).start()
            return "ok"
    """)
    invoke(lam, name, {"start": True})
    other = make_function("def handler(e, c):\n    return 'quiet'\n")
    _, _, log = invoke(lam, other)
    assert "background" not in log


PARTIAL_WRITERS = {
    "python3.13": ("app.handler", "import sys\ndef handler(e, c):\n    for _ in range(6000):\n"
                                  "        sys.stdout.write('x' * 100)\n    print('|done')\n    return 'ok'\n"),
    "nodejs22.x": ("index.handler", "exports.handler = async () => {\n  for (let i = 0; i < 6000; i++) "
                                    "process.stdout.write('x'.repeat(100));\n  process.stdout.write('|done\\n');\n  return 'ok';\n};\n"),
}


@pytest.mark.parametrize("runtime", sorted(PARTIAL_WRITERS))
def test_a_line_written_in_pieces_becomes_events_of_at_most_256_kb(lab, lam, make_function, runtime):
    """600,000 characters written without a newline: events of 262,144 characters, nothing lost, order kept."""
    handler, source = PARTIAL_WRITERS[runtime]
    filename = "index.js" if runtime.startswith("nodejs") else "app.py"
    name = make_function({filename: source}, handler=handler, runtime=runtime)
    assert invoke(lam, name)[1] == "ok"
    log = [i for i in lab.invocations if i.function_name == name][-1].result.log
    pieces = [line for line in log.splitlines() if line.startswith("x")]
    assert [len(p) for p in pieces] == [262_144, 262_144, 600_000 - 2 * 262_144 + len("|done")]
    assert pieces[-1].endswith("x|done")


def test_one_huge_node_line_is_cut_like_pythons(lab, lam, make_function):
    """One 5 MB line: its first 1 MB ends the head, its last 8 KB is the tail, the rest is said to be left out."""
    name = make_function({"index.js": "exports.handler = async () => {\n  process.stdout.write('a' + 'x'.repeat(5e6) + "
                                      "'z\\n');\n  return 'ok';\n};\n"}, handler="index.handler", runtime="nodejs22.x")
    assert invoke(lam, name)[1] == "ok"
    log = [i for i in lab.invocations if i.function_name == name][-1].result.log
    assert len(log) < 1_100_000
    assert "a" + "x" * 1000 in log and "x" * 1000 + "z\n" in log
    assert f"[lambda-lab] {5_000_002 - (1 << 20) - (8 << 10)} characters of log output left out here" in log
