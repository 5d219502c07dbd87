"""Unpack a deployment package or layer into one folder, and never write or change anything outside it.

Lambda's unzip refuses members that would land outside the package's folder; the service refuses such
packages at upload (service/_validation.py), and this module refuses them again, before writing anything,
for any package that reaches the runtime another way.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

__all__ = ["UnsafePackage", "unpack", "unsafe_member"]

_CHUNK = 1 << 20


class UnsafePackage(ValueError):
    """A package has a member that would unpack outside its folder (an absolute path or a '..' part)."""


def unsafe_member(name: str) -> str | None:
    """Why the member `name` would unpack outside the package's folder, or None when it is safe."""
    parts = PurePosixPath(name.replace("\\", "/")).parts  # zips made on Windows may use backslashes
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[0].isalpha() and name[1] == ":"):
        return "it is an absolute path"
    if ".." in parts:
        return "it climbs out with '..'"
    return None


def unpack(zip_bytes: bytes, target: Path) -> None:
    """Unzip into `target` (created if needed), restoring executable bits; UnsafePackage before any write."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        members = zf.infolist()
        for info in members:
            reason = unsafe_member(info.filename)
            if reason:
                raise UnsafePackage(f"package member '{info.filename}' would unpack outside the package's folder: "
                                    f"{reason}. Zip the files with paths relative to the package's root.")
        for info in members:
            parts = [p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", ".")]
            if not parts:
                continue
            dest = root.joinpath(*parts)
            if info.is_dir():
                _make_dirs(root, dest)
                continue
            _make_dirs(root, dest.parent)
            _write(zf, info, dest)


def _make_dirs(root: Path, folder: Path) -> None:
    """Create `folder` one part at a time, refusing any existing part that is not a real folder inside root."""
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise UnsafePackage(f"package member path '{folder.relative_to(root)}' passes through "
                                f"'{current.relative_to(root)}', which is not a folder in the package.")
        current.mkdir(exist_ok=True)


def _write(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    """Write one member; an earlier one of the same name (a lower layer's file) is replaced, never followed."""
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        raise UnsafePackage(f"package member '{info.filename}' is a file where the package already has a folder.")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(dest, flags, 0o644)
    with os.fdopen(fd, "wb") as out, zf.open(info) as src:  # zipfile stops at the declared size: no bomb
        shutil.copyfileobj(src, out, _CHUNK)
        unix_mode = info.external_attr >> 16
        mode = unix_mode & 0o777
        # Symbolic-link members are written as plain files holding the link text, as Python's zipfile
        # always did here; they keep no mode, so nothing is ever changed through a link.
        if mode & 0o111 and not stat.S_ISLNK(unix_mode) and os.chmod in os.supports_fd:
            os.chmod(out.fileno(), mode)  # by descriptor: the very file just written, whatever its path
