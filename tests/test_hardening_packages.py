"""Issue #10, packages and logs: what Lambda refuses at upload, unpacking that stays in its folder, bounded logs.

Every test talks plain boto3 to a local lab; the memory test runs a lab in its own Python process.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import zipfile
from functools import lru_cache

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lambda_lab
from lambda_lab.runtime import CodeArchive, FunctionConfig, InvokeRequest, Runtime
from lambda_lab.runtime._unpack import UnsafePackage, unpack

HANDLER = "def handler(event, context):\n    return 'ran'\n"
NOT_A_ZIP = ("Could not unzip uploaded file. Please check your file, then try to upload again. (lambda-lab: {arg} "
             "is not a .zip archive; build one with lambda_lab.zip_source(...) or lambda_lab.zip_folder(...).)")
MB = 1 << 20


@pytest.fixture(scope="module")
def lab():
    with lambda_lab.Lab(seed=10, quiet=True) as lab:
        yield lab


@pytest.fixture(scope="module")
def lam(lab):
    return boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))


def zip_of(members: dict) -> bytes:
    """A zip from {name: text} or {name: (text, unix mode with file type bits)}; names are kept verbatim."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            text, mode = content if isinstance(content, tuple) else (content, 0o100644)
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            zf.writestr(info, text)
    return buffer.getvalue()


@lru_cache(maxsize=None)
def zeros_zip(megabytes: int, name: str = "app.py") -> bytes:
    """A highly compressible zip (a zip bomb when large): `megabytes` MB of zeros plus a handler."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("app.py", HANDLER)
        with zf.open(f"blob-{name}.bin", "w", force_zip64=True) as blob:
            chunk = bytes(MB)
            for _ in range(megabytes):
                blob.write(chunk)
    return buffer.getvalue()


def refused(call, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def create(lab, lam, name: str, code: dict, **extra):
    return lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                               Code=code, **extra)


@pytest.fixture
def victim(tmp_path):
    """A learner's private file outside the lab's scratch folder."""
    path = tmp_path / "private.txt"
    path.write_text("mine")
    path.chmod(0o600)
    return path


# -- members that would land outside the package's folder ------------------------------------------
@pytest.mark.parametrize("member", ["absolute", "parent"])
def test_member_outside_the_package_is_refused_at_upload(lab, lam, victim, member):
    name = str(victim) if member == "absolute" else "../" * 12 + str(victim).lstrip("/")
    package = zip_of({"app.py": HANDLER, name: ("#!/bin/sh\n", 0o100777)})
    reason = "it is an absolute path" if member == "absolute" else "it climbs out with '..'"
    code, message, status = refused(create, lab=lab, lam=lam, name=f"outside-{member}", code={"ZipFile": package})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == ("Could not unzip uploaded file. Please check your file, then try to upload again. "
                       f"(lambda-lab: Code.ZipFile has the member '{name}', which would unpack outside the "
                       f"package's folder: {reason}. Zip paths relative to the package's root.)")
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lam.get_function(FunctionName=f"outside-{member}")


def test_runtime_refuses_outside_members_before_writing_anything(victim, tmp_path):
    """A package that reaches the runtime without the service's check still never touches outside files."""
    escape = tmp_path / "escaped.txt"
    package = zip_of({"app.py": HANDLER, str(victim): ("#!/bin/sh\n", 0o100777),
                      "../" * 12 + str(escape).lstrip("/"): ("written", 0o100755)})
    config = FunctionConfig("unsafe", "$LATEST", "app.handler", "python3.13", CodeArchive("f" * 64, package))
    runtime = Runtime(warn_python_version=False)
    try:
        with pytest.raises(UnsafePackage, match="would unpack outside the package's folder"):
            runtime.invoke(config, InvokeRequest("r1", b"{}", "arn:aws:lambda:us-east-1:123456789012:function:u"))
    finally:
        runtime.stop()
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600 and victim.read_text() == "mine"
    assert not escape.exists()


def test_unpack_keeps_executables_and_never_follows_a_link_member(victim, tmp_path):
    package = zip_of({"bin/tool": ("#!/bin/sh\necho hi\n", 0o100755), "data.txt": "plain",
                      "link": (str(victim), stat.S_IFLNK | 0o777)})
    target = tmp_path / "unpacked"
    unpack(package, target)
    assert stat.S_IMODE((target / "bin/tool").stat().st_mode) == 0o755
    assert not os.access(target / "data.txt", os.X_OK)
    assert not (target / "link").is_symlink() and (target / "link").read_text() == str(victim)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_executable_bit_survives_into_the_function(lab, lam):
    package = zip_of({"app.py": "import os\ndef handler(e, c):\n    return os.access('bin/tool', os.X_OK)\n",
                      "bin/tool": ("#!/bin/sh\necho hi\n", 0o100755)})
    create(lab, lam, "keeps-exec-bit", {"ZipFile": package})
    assert json.loads(lam.invoke(FunctionName="keeps-exec-bit")["Payload"].read()) is True


# -- not a zip ----------------------------------------------------------------------------------------
def test_not_a_zip_is_refused_by_every_upload(lab, lam):
    junk = b"def handler(event, context):\n    return 1\n"  # source text, not zipped
    assert refused(create, lab=lab, lam=lam, name="not-a-zip", code={"ZipFile": junk}) == (
        "InvalidParameterValueException", NOT_A_ZIP.format(arg="Code.ZipFile"), 400)
    assert refused(lam.publish_layer_version, LayerName="not-a-zip", Content={"ZipFile": junk}) == (
        "InvalidParameterValueException", NOT_A_ZIP.format(arg="Content.ZipFile"), 400)
    create(lab, lam, "zip-later-junk", {"ZipFile": lambda_lab.zip_source(HANDLER)})
    assert refused(lam.update_function_code, FunctionName="zip-later-junk", ZipFile=junk) == (
        "InvalidParameterValueException", NOT_A_ZIP.format(arg="ZipFile"), 400)
    # the function keeps its code and still answers
    assert json.loads(lam.invoke(FunctionName="zip-later-junk")["Payload"].read()) == "ran"


def test_empty_zip_and_junk_in_s3_are_refused(lab, lam):
    empty = zip_of({})
    assert refused(create, lab=lab, lam=lam, name="empty-zip", code={"ZipFile": empty}) == (
        "InvalidParameterValueException", "Uploaded file must be a non-empty zip", 400)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="hardening-code")
    s3.put_object(Bucket="hardening-code", Key="junk.zip", Body=b"PK but not really")
    code, message, _ = refused(create, lab=lab, lam=lam, name="junk-from-s3",
                               code={"S3Bucket": "hardening-code", "S3Key": "junk.zip"})
    assert code == "InvalidParameterValueException"
    assert message == NOT_A_ZIP.format(arg="the object s3://hardening-code/junk.zip (Code.S3Key)")


# -- size limits ----------------------------------------------------------------------------------------
def test_direct_upload_over_50_mb_is_too_large(lab, lam):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:  # stored: 51 MB zipped
        zf.writestr("app.py", HANDLER)
        zf.writestr("model.bin", bytes(51 * MB))
    big = buffer.getvalue()
    assert refused(create, lab=lab, lam=lam, name="too-big-upload", code={"ZipFile": big}) == (
        "RequestEntityTooLargeException",
        "Request must be smaller than 69905067 bytes for the CreateFunction operation", 413)
    create(lab, lam, "big-later", {"ZipFile": lambda_lab.zip_source(HANDLER)})
    assert refused(lam.update_function_code, FunctionName="big-later", ZipFile=big) == (
        "RequestEntityTooLargeException",
        "Request must be smaller than 69905067 bytes for the UpdateFunctionCode operation", 413)


def test_zip_bomb_over_250_mb_unzipped_is_refused_without_unzipping(lab, lam):
    bomb = zeros_zip(260)
    assert len(bomb) < 2 * MB  # tiny zipped
    expected = ("InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes", 400)
    assert refused(create, lab=lab, lam=lam, name="zip-bomb", code={"ZipFile": bomb}) == expected
    assert refused(lam.publish_layer_version, LayerName="zip-bomb", Content={"ZipFile": bomb}) == expected
    create(lab, lam, "bomb-later", {"ZipFile": lambda_lab.zip_source(HANDLER)})
    assert refused(lam.update_function_code, FunctionName="bomb-later", ZipFile=bomb) == expected


def test_layers_count_toward_the_250_mb(lab, lam):
    half = zeros_zip(130, "half")  # 130 MB unzipped: fine alone, too much twice
    layer = lam.publish_layer_version(LayerName="big-layer", Content={"ZipFile": half})
    layer_bytes = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(half)).infolist())
    expected = ("InvalidParameterValueException",
                f"Unzipped size must be smaller than {262144000 - layer_bytes} bytes", 400)
    assert refused(create, lab=lab, lam=lam, name="with-big-layer", code={"ZipFile": half},
                   Layers=[layer["LayerVersionArn"]]) == expected
    create(lab, lam, "add-big-layer-later", {"ZipFile": half})  # alone it fits
    assert refused(lam.update_function_configuration, FunctionName="add-big-layer-later",
                   Layers=[layer["LayerVersionArn"]]) == expected
    small = create(lab, lam, "small-with-big-layer", {"ZipFile": lambda_lab.zip_source(HANDLER)},
                   Layers=[layer["LayerVersionArn"]])
    assert small["Layers"][0]["Arn"] == layer["LayerVersionArn"]
    assert refused(lam.update_function_code, FunctionName="small-with-big-layer", ZipFile=half) == expected


# -- logs ---------------------------------------------------------------------------------------------------
EVENT_MAX = 256 * 1024 - 26
BIG_LINE = "def handler(event, context):\n    print('L' * (50 << 20))\n    return 'printed'\n"


def test_one_50_mb_line_reaches_cloudwatch_capped(lab, lam):
    create(lab, lam, "one-huge-line", {"ZipFile": lambda_lab.zip_source(BIG_LINE)}, MemorySize=1024, Timeout=60)
    response = lam.invoke(FunctionName="one-huge-line", LogType="Tail")
    assert json.loads(response["Payload"].read()) == "printed"
    logs = boto3.client("logs")
    messages = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/one-huge-line")["events"]]
    pieces = [m for m in messages if m.startswith("L")]
    print(f"50 MB line stored as {len(pieces)} events, {sum(map(len, pieces))} characters, "
          f"largest {max(map(len, pieces))}")
    assert max(len(m.encode()) for m in messages) <= EVENT_MAX
    assert set("".join(pieces)) == {"L"} and sum(map(len, pieces)) <= (1 << 20) + (8 << 10)
    assert any(m.startswith("[lambda-lab] ") and "characters of log output left out here" in m for m in messages)
    stream = logs.describe_log_streams(logGroupName="/aws/lambda/one-huge-line")["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/lambda/one-huge-line", logStreamName=stream)["events"]
    assert max(len(e["message"]) for e in events) <= EVENT_MAX


def test_log_group_memory_stays_bounded_over_many_invocations(lab, lam):
    from lambda_lab.service._moto._logs import GROUP_MAX_BYTES

    source = "def handler(event, context):\n    print(f\"{event['n']:04d}\" + 'y' * 1_000_000)\n    return 1\n"
    create(lab, lam, "print-loop", {"ZipFile": lambda_lab.zip_source(source)}, MemorySize=512)
    for n in range(GROUP_MAX_BYTES // 1_000_000 + 4):
        lam.invoke(FunctionName="print-loop", Payload=json.dumps({"n": n}))
    logs = boto3.client("logs")
    events, token = [], None
    while True:
        page = logs.filter_log_events(logGroupName="/aws/lambda/print-loop", **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    kept = sum(len(e["message"]) for e in events)
    firsts = sorted({e["message"][:4] for e in events if e["message"][:4].isdigit()})
    print(f"print-loop: {kept} characters kept in the log group, invocations {firsts[0]}..{firsts[-1]}")
    assert kept <= GROUP_MAX_BYTES + 2_100_000  # the cap, plus at most the newest batch it never drops
    assert firsts[-1] == f"{n:04d}" and firsts[0] != "0000"  # the newest kept, the oldest dropped


def test_kernel_memory_stays_bounded_when_a_handler_prints_50_mb_lines():
    script = textwrap.dedent(f"""
        import json, boto3, lambda_lab

        def rss_mb():
            with open("/proc/self/status") as status:
                fields = dict(line.split(":", 1) for line in status)
            return int(fields["VmRSS"].split()[0]) / 1024

        with lambda_lab.Lab(seed=11, quiet=True) as lab:
            lam = boto3.client("lambda")
            lam.create_function(FunctionName="huge-lines", Runtime="python3.13", Role=lab.role_arn,
                                Handler="app.handler", MemorySize=1024, Timeout=60,
                                Code={{"ZipFile": lambda_lab.zip_source({BIG_LINE!r})}})
            lam.invoke(FunctionName="huge-lines", Payload=b"{{}}")  # warm up: imports, first log group
            before = rss_mb()
            for _ in range(3):
                lam.invoke(FunctionName="huge-lines", Payload=b"{{}}")
            print(json.dumps({{"before_mb": before, "growth_mb": rss_mb() - before}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"kernel RSS {figures['before_mb']:.0f} MB, growth after three 50 MB lines: {figures['growth_mb']:.1f} MB")
    assert figures["growth_mb"] < 100


def test_the_invocation_history_keeps_whole_logs_only_for_the_newest(lab, lam):
    """lab.invocations keeps every entry, but past 16 M characters of logs the oldest keep only LogResult's tail."""
    from lambda_lab.service._invoke import HISTORY_LOG_CHARS, TRIMMED_LOG

    name = "chatty"
    create(lab, lam, name, {"ZipFile": lambda_lab.zip_source(
        "def handler(event, context):\n    print('y' * 900_000)\n    return event['n']\n")}, MemorySize=512)
    for n in range(24):  # about 21.6 M characters of logs in all
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())
        assert json.loads(response["Payload"].read()) == n
    mine = [i for i in lab.invocations if i.function_name == name]
    assert len(mine) == 24
    logs = [i.result.log for i in mine]
    assert sum(map(len, logs)) <= HISTORY_LOG_CHARS + 4096 * len(logs)
    trimmed = [log.startswith(TRIMMED_LOG) for log in logs]
    assert trimmed[0] and not trimmed[-1]
    assert trimmed.count(False) >= HISTORY_LOG_CHARS // 900_000 - 1  # as many whole logs as fit in the bound
    assert trimmed == sorted(trimmed, reverse=True)  # the oldest go first
    for log, invocation in zip(logs, mine):
        assert "REPORT RequestId: " + invocation.request_id in log  # the tail is kept: REPORT and all
        assert len(log) > 900_000 or len(log) <= len(TRIMMED_LOG) + 4096
