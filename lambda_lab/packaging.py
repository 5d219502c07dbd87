"""Deployment packages: zips that Lambda accepts, the same bytes for the same input.

Introduced in notebook 00_start_here; notebook 07_function_packages goes further.
"""

from __future__ import annotations

import io
import textwrap
import zipfile

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same source, same CodeSha256, no needless new version


def zip_source(source: str | dict[str, str | bytes], filename: str = "app.py") -> bytes:
    """A deployment package from handler source text (or {path: content}), ready for Code={"ZipFile": ...}.

    >>> code = zip_source("def handler(event, context):\\n    return 'hi'\\n")
    """
    files = source if isinstance(source, dict) else {filename: textwrap.dedent(source).lstrip("\n")}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            content = files[path]
            zf.writestr(info, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()
