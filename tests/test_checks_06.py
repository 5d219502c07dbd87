"""Exercise 06.1 (the cheapest memory for an I/O-bound handler): the solution passes, a blank fails, and the
fastest size (a plausible wrong answer) fails with a message that tells cheapest from fastest."""

import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed
from conftest import lab_with_function

ENRICH = """
import time

def handler(event, context):
    time.sleep(0.1)  # the partner's API takes about 100 ms to answer
    return {"status": "enriched"}
"""


@pytest.fixture
def lam():
    with lab_with_function(60, "enrich", ENRICH, MemorySize=2048) as client:
        yield client


def set_memory(lam, memory):
    lam.update_function_configuration(FunctionName="enrich", MemorySize=memory)
    lam.get_waiter("function_updated_v2").wait(FunctionName="enrich")


def test_the_solution_passes(lam, capsys):
    result = lambda_lab.power_tune("enrich", strategy="cost", invocations=5, progress=False)
    assert result.power == 128
    set_memory(lam, result.power)
    checks.ex_06_cheapest_memory("enrich")
    assert "Check passed: 'enrich' runs at 128 MB" in capsys.readouterr().out


def test_doing_nothing_fails(lam):
    with pytest.raises(CheckFailed, match="still has the 2,048 MB it was created with"):
        checks.ex_06_cheapest_memory("enrich")


def test_the_fastest_size_is_not_the_cheapest(lam):
    set_memory(lam, 3008)
    with pytest.raises(CheckFailed, match="The cheapest size is not the fastest") as failed:
        checks.ex_06_cheapest_memory("enrich")
    # it says where to look, not what to type or which size wins
    assert "Power tuning: a sweep over memory sizes" in str(failed.value)
    assert "strategy='cost'" not in str(failed.value) and "128 MB" not in str(failed.value)


def test_a_middle_size_is_not_the_cheapest_either(lam):
    set_memory(lam, 256)
    with pytest.raises(CheckFailed, match="waits rather than computes"):
        checks.ex_06_cheapest_memory("enrich")


def test_changed_code_is_caught(lam):
    lam.update_function_code(FunctionName="enrich", ZipFile=lambda_lab.zip_source(
        "def handler(event, context):\n    return {'status': 'skipped'}\n"))
    lam.get_waiter("function_updated_v2").wait(FunctionName="enrich")
    set_memory(lam, 128)
    with pytest.raises(CheckFailed, match="keep its code as it was"):
        checks.ex_06_cheapest_memory("enrich")


# -- exercise 06.2: the cheapest size that meets a latency target ---------------------------------------

THUMBNAIL = """
import hashlib
import time

def handler(event, context):
    time.sleep(0.05)                      # reading the photo from storage
    start = time.process_time()
    while time.process_time() - start < 0.1:   # resizing it: 100 ms of CPU work
        hashlib.sha256(b"pixels" * 1000).digest()
    return {"thumbnail": "ready"}
"""


@pytest.fixture
def thumbnail():
    with lab_with_function(61, "thumbnail", THUMBNAIL, Timeout=10) as client:
        yield client


def resize(lam, memory):
    lam.update_function_configuration(FunctionName="thumbnail", MemorySize=memory)
    lam.get_waiter("function_updated_v2").wait(FunctionName="thumbnail")


def latency_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_06_latency_target("thumbnail")
    return str(failed.value)


def test_latency_solution_passes(thumbnail, capsys):
    result = lambda_lab.power_tune("thumbnail", memory_sizes=[512, 768, 1024], invocations=2,
                                   strategy="cost", progress=False)
    choice = min((row for row in result.table if row["avg_ms"] <= 300), key=lambda row: row["cost"])["memory_mb"]
    assert choice in (768, 1024)  # 50 ms waiting + 100 ms x 1769 / memory meets 300 ms from about 710 MB
    resize(thumbnail, choice)
    checks.ex_06_latency_target("thumbnail")
    assert capsys.readouterr().out.startswith(f"Check passed: 'thumbnail' at {choice:,} MB")


def test_latency_blank_fails_without_the_answer(thumbnail):
    message = latency_failure()
    assert message.startswith("At 128 MB a warm call of 'thumbnail' takes about ")
    assert "over the 300 ms target" in message and "Power tuning" in message
    for answer in (" 768 MB", "1,024 MB", "1024 MB", "avg_ms"):
        assert answer not in message


def test_too_small_a_size_misses_the_target(thumbnail):
    resize(thumbnail, 512)  # about 50 + 345 ms
    assert "At 512 MB a warm call of 'thumbnail' takes about" in latency_failure()


def test_the_fastest_single_thread_size_is_not_the_cheapest_on_target(thumbnail):
    # the plausible wrong answer: "one full vCPU" meets the target, at about a quarter more per call
    resize(thumbnail, 1769)
    message = latency_failure()
    assert message.startswith("1,769 MB meets the target") and "more than at the cheapest size" in message
    assert " 768 MB" not in message and "1,024 MB" not in message
