"""Deployment packages: zips that Lambda accepts, the same bytes for the same input.

Introduced in notebook 00_start_here; notebook 07_function_packages goes further: folders, dependencies
installed by pip, platform checks for compiled code, layers and Lambda's size limits.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import os
import re
import shutil
import tempfile
import textwrap
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._wheels import (PackageBuildError, PlatformMismatch, PlatformWarning, inspect_zip, lambda_target,
                      pip_install, this_computer)

__all__ = ["zip_source", "zip_folder", "build_package", "layer_zip", "Package", "PlatformMismatch",
           "PlatformWarning", "PackageBuildError", "PackageTooLarge", "DEFAULT_EXCLUDE", "secrets_extension_arn"]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same source, same CodeSha256, no needless new version
DEFAULT_EXCLUDE = ("__pycache__", "*.pyc", "*.pyo", ".git", ".hg", ".svn", ".venv", ".DS_Store",
                   ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache", ".ruff_cache")
MB = 1024 * 1024  # Lambda's "MB" is a mebibyte: 250 MB unzipped is 262,144,000 bytes
ZIPPED_LIMIT = 50 * MB  # ZipFile= uploads; the API refuses requests over 69,905,067 bytes once base64-encoded
UNZIPPED_LIMIT = 250 * MB  # the function and all its layers, unzipped
LAYERS_LIMIT = 5
ARCHITECTURES = ("x86_64", "arm64")


class PackageTooLarge(ValueError):
    """A package (with its layers) is over one of Lambda's size limits."""


def _write_zip(entries: Mapping[str, Path | str | bytes | tuple[bytes, int]]) -> bytes:
    """One deterministic zip: sorted names, 1980 timestamps, Unix permissions 0644 (0755 if executable)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            content = entries[name]
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = 3  # Unix on every OS, so the permission bits below mean the same everywhere
            info.compress_type = zipfile.ZIP_DEFLATED
            if isinstance(content, Path):
                stat = content.stat()
                # Lambda runs code as another user: files must be world-readable; keep only "executable"
                info.external_attr = (0o755 if stat.st_mode & 0o100 else 0o644) << 16
                info.file_size = stat.st_size
                with content.open("rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, MB)
            else:
                content, mode = content if isinstance(content, tuple) else (content, 0o644)
                info.external_attr = mode << 16
                zf.writestr(info, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()


def zip_source(source: str | dict[str, str | bytes], filename: str = "app.py") -> bytes:
    """A deployment package from handler source text (or {path: content}), ready for Code={"ZipFile": ...}.

    >>> code = zip_source("def handler(event, context):\\n    return 'hi'\\n")

    Introduced in notebook 00_start_here.
    """
    if not isinstance(source, (str, dict)):
        raise TypeError(f"zip_source takes handler source text (a str) or {{path: content}}, not "
                        f"{type(source).__name__}; for a folder use zip_folder(path)")
    if not isinstance(filename, str) or not filename or filename.startswith("/") or ".." in filename.split("/"):
        raise ValueError(f"filename must be a relative path inside the package, e.g. filename='app.py', "
                         f"not {filename!r}")
    files = source if isinstance(source, dict) else {filename: textwrap.dedent(source).lstrip("\n")}
    return _write_zip(files)


def _excluded(parts: tuple[str, ...], exclude: Iterable[str]) -> bool:
    relative = "/".join(parts)
    return any(fnmatch.fnmatch(part, pattern) for pattern in exclude for part in parts) or \
        any(fnmatch.fnmatch(relative, pattern) for pattern in exclude)


def _folder_entries(root: Path, exclude: Iterable[str], prefix: str = "") -> dict[str, Path]:
    exclude = tuple(exclude)
    entries = {}
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).parts
        dirs[:] = [d for d in dirs if not _excluded(base + (d,), exclude)]  # prune: never walk into .git
        for name in files:
            if not _excluded(base + (name,), exclude):
                entries[prefix + "/".join(base + (name,))] = Path(folder, name)
    return entries


def zip_folder(path: str | os.PathLike, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> bytes:
    """A deployment package from a folder: the same files always give the same bytes, so the same CodeSha256.

    `exclude` holds glob patterns matched against each file or folder name and against relative paths.

    >>> code = zip_folder("my_function/")   # my_function/app.py lands at the zip's root: Handler="app.handler"

    Introduced in notebook 07_function_packages.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"zip_folder needs a folder; {str(root)!r} is not one.")
    return _write_zip(_folder_entries(root, exclude))


# -- Package -------------------------------------------------------------------------------------------
def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KB" if n < MB else f"{n / MB:.1f} MB"


def _unzipped(zip_bytes: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return sum(info.file_size for info in zf.infolist())


@dataclass(frozen=True, repr=False)
class Package:
    """A built deployment package: its zip, its CodeSha256, its sizes and any platform warnings.

    >>> pkg = build_package("my_function/", requirements=["tabulate==0.10.0"])
    >>> lam.create_function(..., Code=pkg.code)    # same as Code={"ZipFile": pkg.zip_bytes}
    >>> print(pkg.size_report())

    Introduced in notebook 07_function_packages.
    """

    zip_bytes: bytes
    warnings: tuple[PlatformMismatch, ...] = ()
    platform: str | None = None  # None: built for this computer; "x86_64"/"arm64": built for Lambda
    python_version: str = "3.13"

    @classmethod
    def from_zip(cls, zip_bytes: bytes, platform: str | None = None, python_version: str = "3.13") -> Package:
        """Wrap any zip (from zip_folder, say) to check its platform and sizes; warns like build_package.

        Introduced in notebook 07_function_packages.
        """
        package = _make_package(zip_bytes, platform, python_version, vendored=())
        _emit(package.warnings)
        return package

    @property
    def architecture(self) -> str:
        """The function architecture the package was checked against (x86_64 unless platform= said arm64)."""
        return self.platform or "x86_64"

    @property
    def sha256(self) -> str:
        """Base64 SHA-256 of the zip: what Lambda reports as CodeSha256."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()

    @property
    def code(self) -> dict:
        """Ready for create_function(Code=...)."""
        return {"ZipFile": self.zip_bytes}

    @property
    def zipped_size(self) -> int:
        return len(self.zip_bytes)

    @property
    def unzipped_size(self) -> int:
        return _unzipped(self.zip_bytes)

    @property
    def files(self) -> list[str]:
        with zipfile.ZipFile(io.BytesIO(self.zip_bytes)) as zf:
            return zf.namelist()

    def _sentences(self, layers: Iterable[Package | bytes]) -> tuple[list[str], list[str]]:
        """(every sentence of the report, the sentences about limits it breaks)."""
        layer_sizes = [layer.unzipped_size if isinstance(layer, Package) else _unzipped(layer) for layer in layers]
        lines, broken = [], []
        zipped = self.zipped_size
        if zipped > ZIPPED_LIMIT:
            broken.append(f"Zipped: {_size(zipped)}, more than the 50 MB Lambda accepts in a direct upload "
                          "(Code={'ZipFile': ...}): CreateFunction fails with RequestEntityTooLargeException. "
                          "Upload the zip to S3 and pass Code={'S3Bucket': ..., 'S3Key': ...}, or move "
                          "dependencies into a layer.")
        else:
            lines.append(f"Zipped: {_size(zipped)} of the 50 MB Lambda accepts in a direct upload "
                         "(Code={'ZipFile': ...}).")
        total = self.unzipped_size + sum(layer_sizes)
        parts = ""
        if layer_sizes:
            parts = (f" ({_size(self.unzipped_size)} for the function + {_size(sum(layer_sizes))} in "
                     f"{len(layer_sizes)} layer{'s' * (len(layer_sizes) > 1)})")
        if total > UNZIPPED_LIMIT:
            broken.append(f"Unzipped: {_size(total)}{parts}, more than the 250 MB (262,144,000 bytes) Lambda "
                          "allows for a function and its layers together: CreateFunction fails with "
                          "InvalidParameterValueException ('Unzipped size must be smaller than 262144000 bytes'). "
                          "Leave out what the handler does not need, or ship a container image (up to 10 GB).")
        else:
            lines.append(f"Unzipped: {_size(total)}{parts} of the 250 MB Lambda allows for a function and "
                         "its layers together.")
        if len(layer_sizes) > LAYERS_LIMIT:
            broken.append(f"Layers: {len(layer_sizes)}, but a function may use at most {LAYERS_LIMIT}.")
        return broken + lines, broken

    def size_report(self, layers: Iterable[Package | bytes] = ()) -> str:
        """Sizes against Lambda's limits (50 MB zipped for a direct upload, 250 MB unzipped with layers).

        >>> print(pkg.size_report(layers=[layer_zip("shared/")]))

        Introduced in notebook 07_function_packages.
        """
        sentences, broken = self._sentences(layers)
        verdict = "Over Lambda's limits." if broken else "Within Lambda's limits."
        return "\n".join([verdict] + sentences)

    def check_limits(self, layers: Iterable[Package | bytes] = ()) -> None:
        """Raise PackageTooLarge, saying which limit and what to do, if Lambda would refuse this package.

        Introduced in notebook 07_function_packages.
        """
        _, broken = self._sentences(layers)
        if broken:
            raise PackageTooLarge("\n".join(broken))

    def __repr__(self) -> str:
        built = f"for Lambda {self.platform}" if self.platform else "for this computer"
        note = f", {len(self.warnings)} platform warning{'s' * (len(self.warnings) != 1)}" if self.warnings else ""
        return (f"<Package {len(self.files)} files, {_size(self.zipped_size)} zipped, {_size(self.unzipped_size)} "
                f"unzipped, built {built}, CodeSha256 {self.sha256}{note}>")


# -- build_package ---------------------------------------------------------------------------------------
def _python_version(version: str) -> str:
    match = re.fullmatch(r"(?:python)?(3\.\d+)", str(version))
    if not match:
        raise ValueError(f"python_version={version!r}: give the runtime's version, such as '3.13'.")
    return match[1]


def _check_platform(platform: str | None) -> None:
    if platform is not None and platform not in ARCHITECTURES:
        raise ValueError(f"platform={platform!r}: Lambda's architectures are 'x86_64' and 'arm64' "
                         "(or leave platform=None to build for this computer).")


def _make_package(zip_bytes: bytes, platform: str | None, python_version: str,
                  vendored: Iterable[str]) -> Package:
    _check_platform(platform)
    version = _python_version(python_version)
    python = tuple(int(p) for p in version.split("."))
    architecture = platform or "x86_64"
    vendored = set(vendored)
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        found = inspect_zip(zf, lambda_target(architecture, python), architecture, vendored)
        found += inspect_zip(zf, this_computer(), architecture, vendored)
    return Package(zip_bytes, tuple(found), platform, version)


def _emit(found: Iterable[PlatformMismatch]) -> None:
    for mismatch in found:
        warnings.warn(mismatch.message, PlatformWarning, stacklevel=3)


def _source_entries(source, filename: str, exclude: Iterable[str]) -> dict[str, Path | str | bytes]:
    if source is None:
        return {}
    if isinstance(source, dict):
        return dict(source)
    if isinstance(source, str) and "\n" in source:
        return {filename: textwrap.dedent(source).lstrip("\n")}
    path = Path(source)
    if path.is_dir():
        return _folder_entries(path, exclude)
    if path.is_file():
        return {path.name: path}
    raise FileNotFoundError(f"{str(path)!r} is neither a folder nor a file; pass handler source text with a "
                            "newline in it, a {path: content} dict, or a folder.")


def build_package(source=None, requirements=None, *, platform: str | None = None, python_version: str = "3.13",
                  filename: str = "app.py", exclude: Iterable[str] = DEFAULT_EXCLUDE) -> Package:
    """A deployment package: your code plus its dependencies, installed as `pip install --target` does.

    `source` is a folder, one file, handler source text, or {path: content}; None packs dependencies only.
    `requirements` is a requirements file's path or a list such as ["tabulate==0.10.0"]; pin versions, or
    the same call may give other bytes (and a new CodeSha256) when a new release appears.

    `platform` chooses what pip installs. None (the default) installs for this computer, exactly like a
    plain `pip install --target`: any package installs (pip builds source distributions if it must) and
    the lab can run it, but compiled code fits only this computer, and Lambda runs Linux. "x86_64" or
    "arm64" asks for a Lambda-compatible build: pip runs with `--platform manylinux2014_x86_64` (or
    `_aarch64`) `--only-binary=:all: --python-version <python_version> --implementation cp`, so compiled
    code fits Lambda, but only packages that publish such wheels install, and the lab, which runs
    handlers on this computer's Python, may be unable to load that compiled code. Pure-Python packages are
    the same either way.

    Compiled code that will not load on Lambda (another OS, architecture or Python version than the
    function's) is listed in `.warnings` and reported with warnings.warn (a PlatformWarning).

    >>> pkg = build_package("my_function/", requirements=["tabulate==0.10.0"])
    >>> lam.create_function(FunctionName="report", Runtime="python3.13", Role=lab.role_arn,
    ...                     Handler="app.handler", Code=pkg.code)

    Introduced in notebook 07_function_packages.
    """
    _check_platform(platform)
    version = _python_version(python_version)
    own = _source_entries(source, filename, exclude)
    with tempfile.TemporaryDirectory(prefix="lambda-lab-build-") as tmp:
        deps = Path(tmp, "deps")
        if requirements is not None:
            pip_install(requirements, deps, platform, version)
        installed = _folder_entries(deps, exclude) if deps.is_dir() else {}
        # pip puts console scripts in bin/, with this computer's Python in their first line: no use on Lambda
        installed = {name: path for name, path in installed.items() if not name.startswith("bin/")}
        zip_bytes = _write_zip({**installed, **own})  # your own files win over a dependency's of the same name
    package = _make_package(zip_bytes, platform, version, vendored=own)
    _emit(package.warnings)
    return package


# -- layers ------------------------------------------------------------------------------------------------
def layer_zip(source, python_version: str | None = None, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> bytes:
    """A layer archive laid out as Lambda expects: everything under python/, which lands on /opt/python.

    `source` is a folder (one that already holds only python/ is zipped as it is), {path: content}, or a
    Package such as build_package(requirements=[...]). With python_version="3.13" the files go under
    python/lib/python3.13/site-packages/ instead, which only that Python version puts on sys.path.

    >>> lam.publish_layer_version(LayerName="shared", Content={"ZipFile": layer_zip("shared/")},
    ...                           CompatibleRuntimes=["python3.13"])

    Introduced in notebook 07_function_packages.
    """
    prefix = "python/" if python_version is None else \
        f"python/lib/python{_python_version(python_version)}/site-packages/"
    if isinstance(source, Package):
        with zipfile.ZipFile(io.BytesIO(source.zip_bytes)) as zf:
            return _write_zip({prefix + info.filename: (zf.read(info), 0o755 if info.external_attr & (0o100 << 16)
                                                        else 0o644) for info in zf.infolist()})
    if isinstance(source, dict):
        return _write_zip({prefix + name.lstrip("/"): content for name, content in source.items()})
    root = Path(source)
    if not root.is_dir():
        raise NotADirectoryError(f"layer_zip needs a folder, a dict or a Package; {str(root)!r} is not a folder.")
    if [p.name for p in root.iterdir() if not _excluded((p.name,), exclude)] == ["python"]:
        return _write_zip(_folder_entries(root, exclude))  # already laid out: do not make python/python/
    return _write_zip(_folder_entries(root, exclude, prefix))


def secrets_extension_arn(region: str, version: int, arm64: bool = False) -> str:
    """The ARN of AWS's Parameters and Secrets extension layer in `region`: AWS publishes it from a different
    account in each Region, and its version numbers differ by Region too, so take `version` from AWS's list
    ("AWS Parameters and Secrets Lambda Extension ARNs", Secrets Manager user guide).

    >>> secrets_extension_arn("eu-west-1", 12)
    'arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12'
    """
    from .service._secrets_extension import LAYER_ACCOUNTS

    if region not in LAYER_ACCOUNTS:
        raise ValueError(f"AWS lists no Parameters and Secrets extension layer in {region!r}")
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    name = "AWS-Parameters-and-Secrets-Lambda-Extension" + ("-Arm64" if arm64 else "")
    return f"arn:{partition}:lambda:{region}:{LAYER_ACCOUNTS[region]}:layer:{name}:{version}"
