"""Deployment packages: deterministic zips, dependencies from the package index, platform warnings, limits.

One test builds with requirements= from the package index (with pip's cache); the others install wheels
built here, with --no-index, so the suite also runs offline. `lab` is the shared one-per-module fixture from
conftest.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import boto3
import pytest

from lambda_lab import _wheels
from lambda_lab.packaging import (Package, PackageBuildError, PackageTooLarge, PlatformWarning, build_package,
                                  layer_zip, zip_folder, zip_source)

TABLE_HANDLER = """\
from tabulate import tabulate

def handler(event, context):
    return tabulate(event["rows"], headers=["name", "MB"])
"""
ROWS = {"rows": [["layer", 3], ["function", 12]]}


def create(lab, name: str, code: dict, **extra) -> dict:
    return boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler", Code=code, **extra)


def invoke(name: str, event=None) -> tuple[dict, object]:
    reply = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return reply, json.loads(reply["Payload"].read())


def write_tree(root: Path, files: dict[str, str | bytes], order=sorted) -> Path:
    for name in order(files):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = files[name]
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


# -- deterministic zips ----------------------------------------------------------------------------------
def test_zip_source_bytes_are_unchanged():
    # Pinned bytes: a new CodeSha256 for the same source would publish needless versions in every notebook
    text = zip_source("\n    def handler(event, context):\n        return 'hi'\n")
    files = zip_source({"app.py": "x = 1\n", "lib/util.py": b"y = 2\n", "a.txt": "z"})
    assert hashlib.sha256(text).hexdigest() == "f34bda6ed1b3004b70c609048cd46103cbc9b454089feaf01bdf8fd0c4afddcb"
    assert hashlib.sha256(files).hexdigest() == "ee1e4f0dbdc39543916f49792e71ca205e557d2ccbdad8acef959f4b785f623d"


SOURCE_FILES = {"app.py": "from helpers.text import shout\n\ndef handler(e, c):\n    return shout('hi')\n",
                "helpers/__init__.py": "", "helpers/text.py": "def shout(s):\n    return s.upper()\n",
                "helpers/__pycache__/text.cpython-311.pyc": b"\0junk", "stale.pyc": b"\0",
                ".git/HEAD": "ref: refs/heads/main\n", "data/.DS_Store": b"\0", "data/words.txt": "a\nb\n"}


def test_zip_folder_same_files_same_bytes(tmp_path):
    first = write_tree(tmp_path / "a", SOURCE_FILES)
    second = write_tree(tmp_path / "b", SOURCE_FILES, order=lambda f: sorted(f, reverse=True))
    os.utime(second / "app.py", (1_000_000_000, 1_000_000_000))  # other times, other creation order
    code = zip_folder(first)
    assert code == zip_folder(second)
    with zipfile.ZipFile(io.BytesIO(code)) as zf:
        assert zf.namelist() == ["app.py", "data/words.txt", "helpers/__init__.py", "helpers/text.py"]
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in zf.infolist()} == {0o644}


@pytest.mark.skipif(os.name != "posix", reason="executable bits are a POSIX idea")
def test_zip_folder_keeps_executables_runnable_and_honours_exclude(tmp_path):
    root = write_tree(tmp_path / "src", {"app.py": "", "bin/tool": "#!/bin/sh\n", "tests/test_app.py": ""})
    (root / "bin/tool").chmod(0o700)  # private on disk; Lambda runs as another user, so it must become 0755
    with zipfile.ZipFile(io.BytesIO(zip_folder(root, exclude=("tests",)))) as zf:
        assert {info.filename: info.external_attr >> 16 for info in zf.infolist()} == {
            "app.py": 0o644, "bin/tool": 0o755}


def test_same_folder_same_code_sha256_and_one_version(lab, tmp_path):
    first = Package.from_zip(zip_folder(write_tree(tmp_path / "a", SOURCE_FILES)))
    again = Package.from_zip(zip_folder(shutil.copytree(tmp_path / "a", tmp_path / "b")))
    created = create(lab, "same-bytes", first.code)
    assert created["CodeSha256"] == first.sha256 == again.sha256
    assert first.sha256 == base64.b64encode(hashlib.sha256(first.zip_bytes).digest()).decode()
    lam = boto3.client("lambda")
    assert lam.publish_version(FunctionName="same-bytes")["Version"] == "1"
    assert lam.publish_version(FunctionName="same-bytes")["Version"] == "1"
    assert lam.update_function_code(FunctionName="same-bytes", ZipFile=again.zip_bytes)["CodeSha256"] == first.sha256
    versions = lam.list_versions_by_function(FunctionName="same-bytes")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert invoke("same-bytes")[1] == "HI"


def test_publish_after_identical_update_gives_no_new_version(lab):
    lam = boto3.client("lambda")
    code = zip_source("def handler(e, c):\n    return 1\n")
    create(lab, "identical-update", {"ZipFile": code})
    lam.publish_version(FunctionName="identical-update")
    lam.update_function_code(FunctionName="identical-update", ZipFile=code)
    assert lam.publish_version(FunctionName="identical-update")["Version"] == "1"


# -- dependencies from the package index ----------------------------------------------------------------------
def local_wheel(folder: Path, name: str, version: str, files: dict[str, str | bytes],
                tag: str = "py3-none-any") -> Path:
    """A wheel as a build backend writes it (code, METADATA, WHEEL, RECORD with hashes), in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    purelib = "true" if tag.endswith("-none-any") else "false"
    members = {path: content.encode() if isinstance(content, str) else content for path, content in files.items()}
    members[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    members[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: lambda-lab-tests\nRoot-Is-Purelib: {purelib}\n"
                                f"Tag: {tag}\n").encode()
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
                     f"{len(data)}\n" for path, data in members.items()) + f"{info}/RECORD,,\n"
    members[f"{info}/RECORD"] = record.encode()
    wheel = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in members.items():
            zf.writestr(path, data)
    return wheel


LABTABLE = {"labtable/__init__.py": "def table(rows):\n    return '\\n'.join(' '.join(map(str, r)) for r in rows)\n"}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    """A folder with one pure-Python wheel, labtable 1.0: pip installs from it with --no-index, offline."""
    folder = tmp_path_factory.mktemp("wheels")
    local_wheel(folder, "labtable", "1.0", LABTABLE)
    return folder


def offline(wheelhouse: Path, *requirements: str) -> list[str]:
    return ["--no-index", "--find-links", str(wheelhouse), *requirements]


@pytest.fixture(scope="module")
def tabulate_package(tmp_path_factory):
    root = tmp_path_factory.mktemp("table")
    write_tree(root / "src", {"app.py": TABLE_HANDLER})
    (root / "requirements.txt").write_text("tabulate==0.10.0\n")
    return build_package(root / "src", requirements=root / "requirements.txt")


def test_dependency_from_the_index_runs_in_a_real_handler(lab, tabulate_package):
    pkg = tabulate_package
    assert "tabulate/__init__.py" in pkg.files and "app.py" in pkg.files
    assert not any(name.startswith("bin/") for name in pkg.files)  # console scripts are no use on Lambda
    assert pkg.warnings == ()  # pure Python: fits every platform
    created = create(lab, "with-tabulate", pkg.code)
    assert created["CodeSha256"] == pkg.sha256 and created["CodeSize"] == pkg.zipped_size
    reply, table = invoke("with-tabulate", ROWS)
    assert "FunctionError" not in reply
    assert table.splitlines()[0].split() == ["name", "MB"] and "function" in table


def test_same_handler_without_its_dependency_fails_to_import(lab):
    create(lab, "without-tabulate", {"ZipFile": zip_source(TABLE_HANDLER)})
    reply, error = invoke("without-tabulate", ROWS)
    assert reply["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'app': No module named 'tabulate'"


def test_requirements_as_a_list_give_the_same_package(wheelhouse, tmp_path):
    (tmp_path / "requirements.txt").write_text(f"--no-index\n--find-links {wheelhouse}\nlabtable==1.0\n")
    from_file = build_package(TABLE_HANDLER, requirements=tmp_path / "requirements.txt")
    from_list = build_package(TABLE_HANDLER, requirements=offline(wheelhouse, "labtable==1.0"))
    assert from_list.zip_bytes == from_file.zip_bytes and from_list.sha256 == from_file.sha256
    assert "labtable/__init__.py" in from_list.files and "app.py" in from_list.files
    assert "labtable-1.0.dist-info/METADATA" in from_list.files


def test_a_local_wheel_runs_in_a_real_handler(lab, wheelhouse):
    pkg = build_package("from labtable import table\ndef handler(event, context):\n    return table(event['rows'])\n",
                        requirements=offline(wheelhouse, "labtable==1.0"))
    create(lab, "with-labtable", pkg.code)
    reply, text = invoke("with-labtable", ROWS)
    assert "FunctionError" not in reply and text == "layer 3\nfunction 12"


def test_a_release_that_does_not_exist_fails_with_pips_reason(wheelhouse):
    with pytest.raises(PackageBuildError, match=r"(?s)exit 1\).*labtable==0\.0\.1.*only wheels built for "
                                                r"manylinux2014_aarch64 and CPython 3\.13"):
        build_package(TABLE_HANDLER, requirements=offline(wheelhouse, "labtable==0.0.1"), platform="arm64")


@pytest.mark.filterwarnings("ignore:.*but the lab needs:lambda_lab.packaging.PlatformWarning")
def test_real_x86_64_wheel_in_an_arm64_function_is_flagged():
    # A Lambda-compatible build of a small package with compiled code, then the same zip checked for arm64
    pkg = build_package(None, requirements=["markupsafe==3.0.3"], platform="x86_64", python_version="3.13")
    compiled = [name for name in pkg.files if name.endswith(".so")]
    assert compiled and all("cpython-313-x86_64-linux-gnu" in name for name in compiled)
    assert [w for w in pkg.warnings if w.runs_on == "Lambda"] == []
    with pytest.warns(PlatformWarning, match="markupsafe 3.0.3.*platform='arm64'"):
        on_arm = Package.from_zip(pkg.zip_bytes, platform="arm64", python_version="3.13")
    [mismatch] = [w for w in on_arm.warnings if w.runs_on == "Lambda"]
    assert mismatch.distribution == "markupsafe 3.0.3"
    assert mismatch.problems == ("architecture",) and "x86_64" in mismatch.found
    assert "aarch64" in mismatch.needed and "platform='arm64'" in mismatch.fix


def test_a_local_build_of_compiled_code_warns_about_lambdas_python():
    # Built for this computer's Python, checked against another Python version: Lambda could not import it
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    runtime = "3.12" if here == "3.13" else "3.13"
    with pytest.warns(PlatformWarning, match=f"CPython {here}"):
        pkg = build_package(None, requirements=["markupsafe==3.0.3"], python_version=runtime)
    [mismatch] = pkg.warnings
    assert mismatch.runs_on == "Lambda" and "python" in mismatch.problems
    assert f"python_version='{runtime}'" in mismatch.fix


# -- platform warnings on synthetic distributions ---------------------------------------------------------------
def elf(machine: int) -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 3, machine) + bytes(40)


X86_64_ELF, AARCH64_ELF = elf(0x3E), elf(0xB7)
MACHO_ARM64 = b"\xcf\xfa\xed\xfe" + struct.pack("<I", 0x0100000C) + bytes(24)
PE_AMD64 = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"PE\0\0" + struct.pack("<H", 0x8664) + bytes(20)


def fake_dist(root: Path, name: str, version: str, tags: list[str], compiled: dict[str, bytes] = ()) -> Path:
    """A distribution as pip --target leaves it: code, and a .dist-info whose RECORD lists that code."""
    info = f"{name}-{version}.dist-info"
    purelib = "true" if tags == ["py3-none-any"] else "false"
    files = {f"{name}/__init__.py": "", **dict(compiled)}
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: " + purelib + "\n" + \
        "".join(f"Tag: {tag}\n" for tag in tags)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    return write_tree(root, files)


def check(root: Path, platform: str, python_version: str = "3.13"):
    """Build the folder; return (Lambda mismatches, PlatformWarning messages emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pkg = build_package(root, platform=platform, python_version=python_version)
    emitted = [str(w.message) for w in caught if issubclass(w.category, PlatformWarning)]
    return [w for w in pkg.warnings if w.runs_on == "Lambda"], emitted


@pytest.mark.parametrize("tag, platform, python_version, problems", [
    ("cp313-cp313-manylinux_2_17_x86_64", "arm64", "3.13", ("architecture",)),
    ("cp313-cp313-musllinux_1_2_x86_64", "arm64", "3.13", ("architecture", "libc")),
    ("cp313-cp313-manylinux_2_17_aarch64", "x86_64", "3.13", ("architecture",)),
    ("cp313-cp313-macosx_11_0_arm64", "arm64", "3.13", ("os",)),
    ("cp313-cp313-macosx_10_13_universal2", "x86_64", "3.13", ("os",)),
    ("cp313-cp313-win_amd64", "x86_64", "3.13", ("os",)),
    ("cp311-cp311-manylinux_2_17_x86_64", "x86_64", "3.13", ("python",)),
    ("cp312-cp312-macosx_11_0_arm64", "arm64", "3.13", ("python", "os")),
    ("cp313-cp313-musllinux_1_2_x86_64", "x86_64", "3.13", ("libc",)),
    ("cp313-cp313-manylinux_2_39_x86_64", "x86_64", "3.13", ("glibc",)),
    ("cp313-cp313-manylinux_2_28_x86_64", "x86_64", "3.11", ("python", "glibc")),
    ("cp313-cp313t-manylinux_2_17_x86_64", "x86_64", "3.13", ("implementation",)),
    ("cp314-abi3-manylinux_2_17_x86_64", "x86_64", "3.13", ("python",)),
    ("pp310-pypy310_pp73-manylinux_2_17_x86_64", "x86_64", "3.13", ("implementation",)),
])
def test_compiled_code_for_another_platform_is_flagged(tmp_path, tag, platform, python_version, problems):
    fake_dist(tmp_path, "numpy", "2.0.0", [tag])
    [mismatch], emitted = check(tmp_path, platform, python_version)
    assert mismatch.distribution == "numpy 2.0.0" and mismatch.found == tag
    assert mismatch.problems == problems
    assert f"platform='{platform}'" in mismatch.fix and f"python_version='{python_version}'" in mismatch.fix
    assert mismatch.message in emitted
    arch = "aarch64" if platform == "arm64" else "x86_64"
    assert mismatch.needed.startswith(f"Linux {arch} (manylinux, glibc")
    assert f"CPython {python_version}" in mismatch.needed


@pytest.mark.parametrize("tags, platform", [
    (["cp313-cp313-manylinux_2_17_x86_64", "cp313-cp313-manylinux2014_x86_64"], "x86_64"),
    (["cp313-cp313-manylinux_2_34_aarch64"], "arm64"),
    (["cp39-abi3-manylinux2014_aarch64"], "arm64"),
    (["py3-none-any"], "arm64"),
    (["py3-none-manylinux_2_17_x86_64"], "x86_64"),  # a binary that does not link to Python
    (["cp313-cp313-macosx_11_0_arm64", "cp313-cp313-manylinux_2_17_aarch64"], "arm64"),  # one tag fits
])
def test_compiled_code_for_the_functions_platform_is_fine(tmp_path, tags, platform):
    fake_dist(tmp_path, "fine", "1.0", tags)
    assert check(tmp_path, platform)[0] == []


def test_one_warning_per_distribution_however_many_files(tmp_path):
    compiled = {f"numpy/_core/_m{i}.cpython-313-x86_64-linux-gnu.so": X86_64_ELF for i in range(3)}
    fake_dist(tmp_path, "numpy", "2.0.0", ["cp313-cp313-manylinux_2_17_x86_64"], compiled)
    mismatches, emitted = check(tmp_path, "arm64")
    assert len(mismatches) == 1
    assert [m for m in emitted if "numpy 2.0.0" in m and "Lambda needs" in m] == [mismatches[0].message]
    message = mismatches[0].message
    for part in ("numpy 2.0.0", "cp313-cp313-manylinux_2_17_x86_64", "Linux aarch64", "ImportModuleError",
                 "build_package(..., platform='arm64'", "source folder"):
        assert part in message


def test_compiled_files_without_dist_info_are_checked_by_their_headers(tmp_path):
    write_tree(tmp_path, {"app.py": "", "fastlib/__init__.py": "",
                          "fastlib/_core.cpython-313-aarch64-linux-gnu.so": AARCH64_ELF,
                          "winlib/_core.cp313-win_amd64.pyd": PE_AMD64,
                          "maclib/libthing.dylib": MACHO_ARM64,
                          "oldlib/_speedups.cpython-311-x86_64-linux-gnu.so": X86_64_ELF,
                          "textlib/libc.so": b"/* GNU ld script */\nGROUP ( libc.so.6 )\n"})
    mismatches, _ = check(tmp_path, "x86_64")
    found = {m.found: m.problems for m in mismatches}
    assert found == {"fastlib/_core.cpython-313-aarch64-linux-gnu.so": ("architecture",),
                     "maclib/libthing.dylib": ("os",),
                     "oldlib/_speedups.cpython-311-x86_64-linux-gnu.so": ("python",),
                     "winlib/_core.cp313-win_amd64.pyd": ("os",)}
    assert all(m.distribution.endswith("(no .dist-info says where it came from)") for m in mismatches)


def test_a_tag_that_fits_but_a_binary_that_does_not_is_still_flagged(tmp_path):
    fake_dist(tmp_path, "mislabelled", "1.0", ["cp313-cp313-manylinux_2_17_aarch64"],
              {"mislabelled/_c.cpython-313-aarch64-linux-gnu.so": X86_64_ELF})
    [mismatch], _ = check(tmp_path, "arm64")
    assert mismatch.distribution == "mislabelled 1.0" and mismatch.problems == ("architecture",)


def test_the_lab_says_when_this_computer_cannot_load_the_code(tmp_path):
    foreign = "cp313-cp313-win_arm64" if os.name != "nt" else "cp313-cp313-macosx_11_0_arm64"
    fake_dist(tmp_path, "numpy", "2.0.0", [foreign])
    with pytest.warns(PlatformWarning):
        pkg = build_package(tmp_path)
    [lab_note] = [w for w in pkg.warnings if w.runs_on == "the lab"]
    assert "os" in lab_note.problems and "In the lab" in lab_note.message
    assert f"CPython {sys.version_info[0]}.{sys.version_info[1]}" in lab_note.needed
    assert [w for w in pkg.warnings if w.runs_on == "Lambda"]  # Windows or macOS code fits Lambda even less


def test_platform_and_python_version_are_checked():
    with pytest.raises(ValueError, match="'x86_64' and 'arm64'"):
        build_package("def handler(e, c):\n    pass\n", platform="aarch64")
    with pytest.raises(ValueError, match="such as '3.13'"):
        build_package("def handler(e, c):\n    pass\n", python_version="3")
    with pytest.raises(FileNotFoundError, match=r"requirements=\['tabulate'\]"):
        build_package("def handler(e, c):\n    pass\n", requirements="tabulate")
    with pytest.raises(FileNotFoundError, match="neither a folder nor a file"):
        build_package("no-such-folder")


def test_wheel_tag_reading():
    lambda_arm = _wheels.lambda_target("arm64", (3, 13))
    assert _wheels.tag_problems("cp313-cp313-manylinux2014_aarch64", lambda_arm) == []
    assert _wheels.tag_problems("cp313-cp313-manylinux1_x86_64", lambda_arm) == ["architecture"]
    assert _wheels.binary_platform(AARCH64_ELF) == ("linux", "aarch64")
    assert _wheels.binary_platform(PE_AMD64) == ("windows", "x86_64")
    assert _wheels.binary_platform(MACHO_ARM64) == ("macos", "aarch64")
    assert _wheels.binary_platform(b"#!/bin/sh\n") is None


# -- size limits --------------------------------------------------------------------------------------------------
def zeros_zip(megabytes: int) -> bytes:
    """A zip whose one file is `megabytes` MB of zeros: huge unzipped, tiny zipped, quick to make."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("python/blob.bin", "w", force_zip64=True) as blob:
            for _ in range(megabytes):
                blob.write(bytes(1 << 20))
    return buffer.getvalue()


def test_a_small_package_is_within_limits():
    pkg = Package.from_zip(zip_source("def handler(e, c):\n    return 1\n"))
    assert pkg.unzipped_size == len("def handler(e, c):\n    return 1\n")
    report = pkg.size_report()
    assert report.splitlines() == [
        "Within Lambda's limits.",
        f"Zipped: {pkg.zipped_size} bytes of the 50 MB Lambda accepts in a direct upload (Code={{'ZipFile': ...}}).",
        f"Unzipped: {pkg.unzipped_size} bytes of the 250 MB Lambda allows for a function and its layers together."]
    pkg.check_limits()


def test_over_50_mb_zipped_says_to_upload_through_s3():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("model.bin", os.urandom(51 << 20))  # random bytes do not compress
    pkg = Package.from_zip(buffer.getvalue())
    assert pkg.zipped_size > 50 << 20
    report = pkg.size_report()
    assert report.startswith("Over Lambda's limits.\nZipped: 51.0 MB, more than the 50 MB")
    assert "RequestEntityTooLargeException" in report and "S3Bucket" in report
    with pytest.raises(PackageTooLarge, match="Upload the zip to S3"):
        pkg.check_limits()


def test_over_250_mb_unzipped_counts_the_layers():
    pkg = Package.from_zip(zeros_zip(150))
    layer = zeros_zip(110)
    report = pkg.size_report(layers=[layer])
    assert "Unzipped: 260.0 MB (150.0 MB for the function + 110.0 MB in 1 layer), more than the 250 MB" in report
    assert "Unzipped size must be smaller than 262144000 bytes" in report
    pkg.check_limits()  # alone it fits
    with pytest.raises(PackageTooLarge, match="262,144,000 bytes"):
        pkg.check_limits(layers=[Package.from_zip(layer)])


def test_more_than_five_layers_is_refused():
    pkg = Package.from_zip(zip_source("x = 1\n"))
    small = layer_zip({"util.py": "x = 1\n"})
    assert "Within" in pkg.size_report(layers=[small] * 5)
    with pytest.raises(PackageTooLarge, match="6, but a function may use at most 5"):
        pkg.check_limits(layers=[small] * 6)


# -- layers -------------------------------------------------------------------------------------------------------
def names(zip_bytes: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return zf.namelist()


def test_layer_zip_puts_everything_under_python(tmp_path):
    root = write_tree(tmp_path / "shared", {"shared/__init__.py": "", "shared/money.py": "CENTS = 100\n",
                                            "shared/__pycache__/money.cpython-311.pyc": b"\0"})
    layer = layer_zip(root)
    assert names(layer) == ["python/shared/__init__.py", "python/shared/money.py"]
    assert layer == layer_zip(shutil.copytree(root, tmp_path / "copy"))
    assert names(layer_zip(root, python_version="3.13")) == [
        "python/lib/python3.13/site-packages/shared/__init__.py",
        "python/lib/python3.13/site-packages/shared/money.py"]
    laid_out = write_tree(tmp_path / "ready", {"python/shared/money.py": "CENTS = 100\n"})
    assert names(layer_zip(laid_out)) == ["python/shared/money.py"]  # not python/python/...
    assert names(layer_zip({"util.py": "x = 1\n"}, python_version="python3.12")) == [
        "python/lib/python3.12/site-packages/util.py"]


def test_layer_zip_from_a_package_of_dependencies(wheelhouse):
    with_code = build_package(TABLE_HANDLER, requirements=offline(wheelhouse, "labtable==1.0"))
    layer = layer_zip(build_package(requirements=offline(wheelhouse, "labtable==1.0")))
    assert "python/labtable/__init__.py" in names(layer) and "python/app.py" not in names(layer)
    assert Package.from_zip(layer).unzipped_size == with_code.unzipped_size - len(TABLE_HANDLER)
