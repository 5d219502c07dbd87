"""Wheels: installing them with pip, and telling whether Lambda (or the lab) can load their compiled code.

The check reads what pip leaves behind (`*.dist-info/WHEEL` tags, `RECORD`) and the first bytes of every
compiled file (ELF, Mach-O or PE header), straight from the zip, so any package can be checked, however
it was made.
"""

from __future__ import annotations

import csv
import io
import os
import platform as _platform
import posixpath
import re
import struct
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path


class PackageBuildError(RuntimeError):
    """pip could not install the requirements; the message carries pip's own explanation."""


class PlatformWarning(UserWarning):
    """Compiled code in a package cannot be loaded where the function runs (Lambda, or this computer's lab)."""


@dataclass(frozen=True)
class Target:
    """Where code must load: Lambda's runtime for one architecture, or this computer (the lab)."""

    where: str  # "Lambda" or "the lab"
    os: str  # linux | macos | windows
    arch: str  # x86_64 | aarch64 | ...
    python: tuple[int, int]
    libc: str = "glibc"  # glibc | musl | "" off Linux
    glibc: tuple[int, int] | None = None  # newest glibc symbol version the system provides
    free_threaded: bool = False

    def describe(self) -> str:
        system = _SYSTEMS.get(self.os, self.os)
        return f"{system} {_shown(self.os, self.arch)}, CPython {self.python[0]}.{self.python[1]}"


@dataclass(frozen=True)
class PlatformMismatch:
    """One distribution whose compiled code will not load where the function runs, and what to do."""

    distribution: str  # "numpy 2.0.0", or the folder of compiled files that no .dist-info claims
    found: str  # the wheel tag closest to fitting, or the path of a compiled file
    needed: str  # what the target can load
    fix: str
    runs_on: str = "Lambda"  # "Lambda" or "the lab"
    problems: tuple[str, ...] = ()  # python | implementation | os | architecture | libc | glibc
    reason: str = ""

    @property
    def message(self) -> str:
        consequence = ("On AWS, importing it fails (Runtime.ImportModuleError when the handler module imports it)"
                       if self.runs_on == "Lambda" else
                       "In the lab, importing it may fail (some packages fall back to pure Python)")
        return (f"{self.distribution} is built for {self.reason} ({self.found}), but {self.runs_on} needs "
                f"{self.needed}. {consequence}. Fix: {self.fix}")

    def __str__(self) -> str:
        return self.message


# Amazon Linux 2023 (python3.12 and later) ships glibc 2.34; Amazon Linux 2 (up to python3.11) glibc 2.26.
def _lambda_glibc(python: tuple[int, int]) -> tuple[int, int]:
    return (2, 34) if python >= (3, 12) else (2, 26)


def lambda_target(architecture: str, python: tuple[int, int]) -> Target:
    return Target("Lambda", "linux", "aarch64" if architecture == "arm64" else "x86_64", python,
                  "glibc", _lambda_glibc(python))


def this_computer() -> Target:
    """The lab's target: handlers run on this machine's own Python, whatever Runtime the function names."""
    system = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    libc, glibc = "", None
    if system == "linux":
        name, version = _platform.libc_ver()
        # libc_ver() cannot name musl; this Python's extension suffix (".cpython-313-x86_64-linux-musl.so") can
        libc = "musl" if "musl" in (sysconfig.get_config_var("EXT_SUFFIX") or "") else name
        match = re.match(r"(\d+)\.(\d+)", version)
        glibc = (int(match[1]), int(match[2])) if match else None
    return Target("the lab", system, _arch(_platform.machine()), sys.version_info[:2], libc, glibc,
                  bool(sysconfig.get_config_var("Py_GIL_DISABLED")))


_SYSTEMS = {"linux": "Linux", "macos": "macOS", "windows": "Windows"}


def _shown(system: str, arch: str) -> str:
    """Architecture names as each OS's users know them: aarch64 on Linux, arm64 on macOS and Windows."""
    return "arm64" if arch == "aarch64" and system != "linux" else arch


def _arch(name: str) -> str:
    name = name.lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "i386": "x86", "i686": "x86",
            "win32": "x86", "armv7l": "arm"}.get(name, name)


# -- wheel tags --------------------------------------------------------------------------------------
_LINUX = re.compile(r"^(many|musl)?linux(1|2010|2014|_(\d+)_(\d+))?_(.+)$")
_LEGACY_GLIBC = {"1": (2, 5), "2010": (2, 12), "2014": (2, 17)}


def _platform_of(tag_platform: str) -> tuple[str, set[str], str, tuple[int, int] | None] | None:
    """(os, architectures, libc, glibc needed) for a wheel's platform tag; None for `any`."""
    if tag_platform == "any":
        return None
    match = _LINUX.match(tag_platform)
    if match:
        kind, legacy, major, minor, arch = match.groups()
        glibc = (int(major), int(minor)) if major else _LEGACY_GLIBC.get(legacy or "")
        return "linux", {_arch(arch)}, "musl" if kind == "musl" else "glibc", glibc if kind != "musl" else None
    if tag_platform.startswith("macosx_"):
        arch = tag_platform.split("_", 3)[-1]
        arches = {"universal2": {"x86_64", "aarch64"}, "intel": {"x86_64", "x86"},
                  "universal": {"x86_64", "x86"}}.get(arch, {_arch(arch)})
        return "macos", arches, "", None
    if tag_platform.startswith("win"):
        return "windows", {_arch(tag_platform.partition("_")[2] or "win32")}, "", None
    return tag_platform, {"?"}, "", None


def _python_problems(interpreter: str, abi: str, target: Target) -> list[str]:
    if abi == "none":
        return []  # no CPython ABI: pure Python, or a binary that does not link to Python
    if not interpreter.startswith("cp"):
        return ["implementation"]  # PyPy and friends
    match = re.match(r"cp(\d)(\d+)", interpreter)
    if not match:
        return []
    built = (int(match[1]), int(match[2]))
    if abi == "abi3":  # the stable ABI: this CPython or any later one
        return [] if target.python >= built else ["python"]
    problems = [] if built == target.python else ["python"]
    if abi.endswith("t") != target.free_threaded:
        problems.append("implementation")
    return problems


def tag_problems(tag: str, target: Target) -> list[str]:
    """What stops a wheel with this tag (`cp313-cp313-manylinux_2_17_x86_64`) from loading on `target`."""
    interpreter, abi, plat = (tag.split("-") + ["", "", ""])[:3]
    problems = _python_problems(interpreter, abi, target)
    info = _platform_of(plat)
    if info is None:
        return problems
    system, arches, libc, glibc = info
    if system != target.os:
        return problems + ["os"]  # another OS: its architecture and libc do not matter any more
    if target.arch not in arches:
        problems.append("architecture")
    if system == "linux" and target.libc and libc != target.libc:
        problems.append("libc")
    elif glibc and target.glibc and glibc > target.glibc:
        problems.append("glibc")
    return problems


def _describe_tag(tag: str) -> str:
    interpreter, abi, plat = (tag.split("-") + ["", "", ""])[:3]
    parts = []
    info = _platform_of(plat)
    if info:
        system, arches, libc, glibc = info
        name = f"{_SYSTEMS.get(system, system)} {'/'.join(sorted(_shown(system, a) for a in arches))}"
        if libc == "musl":
            name += " (musl libc)"
        elif glibc:
            name += f" (glibc {glibc[0]}.{glibc[1]} or newer)"
        parts.append(name)
    match = re.match(r"cp(\d)(\d+)", interpreter)
    if abi not in ("none", "abi3") and match:
        parts.append(f"CPython {match[1]}.{match[2]}{' free-threaded' if abi.endswith('t') else ''}")
    elif abi == "abi3" and match:
        parts.append(f"CPython {match[1]}.{match[2]} or later")
    elif abi != "none" and interpreter:
        parts.append(f"the {interpreter} interpreter")
    return ", ".join(parts) or tag


# -- compiled files ------------------------------------------------------------------------------------
_COMPILED = re.compile(r"\.(so(\.\d+)*|pyd|dylib)$")
_EXT_PY = re.compile(r"\.(?:cpython-|cp)(\d)(\d+)(t?)[-.]")
_ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x03: "x86", 0x28: "arm", 0x15: "ppc64", 0x16: "s390x",
                 0xF3: "riscv64"}
_MACHO_CPUS = {0x01000007: "x86_64", 0x0100000C: "aarch64", 7: "x86", 12: "arm"}
_PE_MACHINES = {0x8664: "x86_64", 0xAA64: "aarch64", 0x14C: "x86"}


def binary_platform(head: bytes) -> tuple[str, str] | None:
    """(os, architecture) from a compiled file's first bytes; None when it is no binary we know."""
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        order = "<" if head[5] == 1 else ">"
        machine = struct.unpack(order + "H", head[18:20])[0]
        return "linux", _ELF_MACHINES.get(machine, f"machine {machine:#x}")
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") and len(head) >= 8:
        return "macos", _MACHO_CPUS.get(struct.unpack("<I", head[4:8])[0], "?")
    if head[:4] == b"\xca\xfe\xba\xbe":  # a fat (universal) Mach-O binary
        return "macos", "universal"
    if head[:2] == b"MZ" and len(head) >= 0x40:
        offset = struct.unpack("<I", head[0x3C:0x40])[0]
        if head[offset:offset + 4] == b"PE\0\0" and len(head) >= offset + 6:
            return "windows", _PE_MACHINES.get(struct.unpack("<H", head[offset + 4:offset + 6])[0], "?")
        return "windows", "?"
    return None


def _file_problems(name: str, head: bytes, target: Target) -> tuple[list[str], str]:
    problems, reasons = [], []
    found = binary_platform(head)
    if found:
        system, arch = found
        reasons.append(f"{_SYSTEMS[system]} {_shown(system, arch)}")
        if system != target.os:
            problems.append("os")
        elif arch not in (target.arch, "universal"):
            problems.append("architecture")
    match = _EXT_PY.search(posixpath.basename(name))
    if match:
        built = (int(match[1]), int(match[2]))
        reasons.append(f"CPython {built[0]}.{built[1]}")
        if built != target.python:
            problems.append("python")
    return problems, ", ".join(reasons)


# -- a whole package -----------------------------------------------------------------------------------
@dataclass
class _Dist:
    label: str
    tags: list[str]
    files: set[str]  # paths in the zip
    vendored: bool


def _distributions(zf: zipfile.ZipFile, names: list[str], vendored: Collection[str]) -> list[_Dist]:
    dists = []
    for wheel in (n for n in names if n.endswith(".dist-info/WHEEL")):
        info_dir = posixpath.dirname(wheel)
        root = posixpath.dirname(info_dir)
        stem = posixpath.basename(info_dir)[:-len(".dist-info")]
        label = " ".join(stem.split("-", 1))  # numpy-2.0.0 -> numpy 2.0.0
        text = zf.read(wheel).decode("utf-8", "replace")
        tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.lower().startswith("tag:")]
        files: set[str] = set()
        record = posixpath.join(info_dir, "RECORD")
        if record in zf.NameToInfo:
            rows = csv.reader(io.StringIO(zf.read(record).decode("utf-8", "replace")))
            files = {posixpath.normpath(posixpath.join(root, row[0])) for row in rows if row}
        dists.append(_Dist(label, tags, files, wheel in vendored))
    return dists


def _fix(target: Target, problems: list[str], vendored: bool, architecture: str) -> str:
    if target.where == "the lab":
        if vendored:
            return ("this copy came from your source folder: delete it there, list the package in requirements=, "
                    "and build without platform= to try the function in the lab.")
        return ("the lab runs handlers on this computer's Python: to try the function here, build it without "
                "platform= (for this computer); deploy the platform= build to AWS.")
    version = f"{target.python[0]}.{target.python[1]}"
    fix = f"rebuild with build_package(..., platform='{architecture}', python_version='{version}')"
    if problems == ["glibc"]:
        fix += ", which takes only manylinux2014 wheels, or pin an older release of this package"
    if vendored:
        fix = "this copy came from your source folder: delete it there, list the package in requirements=, and " + fix
    return fix + "."


def inspect_zip(zf: zipfile.ZipFile, target: Target, architecture: str,
                vendored: Collection[str] = ()) -> list[PlatformMismatch]:
    """Every distribution (or unclaimed folder of compiled files) in the zip that cannot load on `target`.

    `vendored` names the zip entries that came from the learner's own folder rather than from pip.
    """
    names = sorted(zf.NameToInfo)
    dists = _distributions(zf, names, vendored)
    needed = (f"Linux {target.arch} (manylinux, glibc {target.glibc[0]}.{target.glibc[1]} or older) and CPython "
              f"{target.python[0]}.{target.python[1]}" if target.where == "Lambda" and target.glibc
              else target.describe())
    found: dict[str, PlatformMismatch] = {}

    def add(label: str, what: str, reason: str, problems: list[str], is_vendored: bool) -> None:
        if label not in found:  # one mismatch per distribution, however many files show it
            found[label] = PlatformMismatch(label, what, needed, _fix(target, problems, is_vendored, architecture),
                                            target.where, tuple(dict.fromkeys(problems)), reason)

    for dist in dists:
        checked = [(tag, tag_problems(tag, target)) for tag in dist.tags]
        if checked and all(problems for _, problems in checked):
            tag, problems = min(checked, key=lambda item: len(item[1]))
            add(dist.label, tag, _describe_tag(tag), problems, dist.vendored)
    owner = {path: dist for dist in dists for path in dist.files}
    for name in names:
        if not _COMPILED.search(name):
            continue
        dist = owner.get(name)
        label = dist.label if dist else f"{name.split('/')[0]}/ (no .dist-info says where it came from)"
        if label in found:
            continue
        with zf.open(name) as handle:
            head = handle.read(4096)
        problems, reason = _file_problems(name, head, target)
        if problems:
            add(label, name, reason, problems, dist.vendored if dist else name in vendored)
    return list(found.values())


# -- installing ---------------------------------------------------------------------------------------------
def pip_install(requirements, target: Path, platform: str | None, python_version: str) -> None:
    """Run pip as `pip install --target` does, in this Python, so the learner's pip settings apply."""
    if isinstance(requirements, (str, os.PathLike)):
        path = Path(requirements)
        if not path.is_file():
            raise FileNotFoundError(f"No requirements file at {str(path)!r}; to name packages, pass a list: "
                                    "requirements=['tabulate'].")
        wanted = ["-r", str(path)]
    else:
        wanted = list(requirements)
    if not wanted:
        return
    command = [sys.executable, "-m", "pip", "install", "--target", str(target), "--no-compile",
               "--disable-pip-version-check", "--no-input", "--no-warn-script-location", "--quiet"]
    if platform:
        machine = "x86_64" if platform == "x86_64" else "aarch64"
        command += ["--platform", f"manylinux2014_{machine}", "--only-binary=:all:",
                    "--python-version", python_version, "--implementation", "cp"]
    done = subprocess.run(command + wanted, capture_output=True, text=True)
    if done.returncode:
        hint = ""
        if "No module named pip" in done.stderr:
            hint = f"\nThis Python ({sys.executable}) has no pip; add it with: python -m ensurepip"
        elif platform and "matching distribution" in done.stderr:
            hint = (f"\nWith platform={platform!r} pip takes only wheels built for manylinux2014_{machine} and "
                    f"CPython {python_version}; one of the requirements publishes none (only a source "
                    "distribution, or wheels for newer Linux only). Pin a release that has such a wheel, or "
                    "build without platform= to compile it for this computer.")
        raise PackageBuildError(f"pip install failed (exit {done.returncode}):\n{done.stderr.strip()}{hint}")
