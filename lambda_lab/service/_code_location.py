"""GetFunction's `Code.Location`: a presigned link that downloads the deployment package, as AWS gives one.

AWS answers with an S3 URL valid for 10 minutes; the lab answers with a link on its loopback endpoint, signed
with a key only this lab holds, so tools that re-upload a function's code (the memory tuner's architecture
toggle, a copy to another region) work the same against the lab and against AWS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable
from urllib.parse import parse_qs, quote

__all__ = ["CodeLocations", "PREFIX", "VALID_S"]

PREFIX = "/_lab/code/"
VALID_S = 600  # AWS's presigned package URL is valid for 10 minutes


class CodeLocations:
    """Makes and serves the links; `read(account, region, name, version)` returns the package bytes or None."""

    def __init__(self, read: Callable[[str, str, str, str], bytes | None] | None = None) -> None:
        self._key = secrets.token_bytes(32)
        self._read = read  # set by the moto bridge when the lab attaches
        self.base_url = ""  # the loopback endpoint's URL, set when it listens

    def bind(self, read) -> None:
        self._read = read

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, account: str, region: str, name: str, version: str, now: float | None = None) -> str:
        """The link for one version's package, valid for VALID_S seconds."""
        expires = int((time.time() if now is None else now) + VALID_S)
        parts = (account, region, name, version)
        signed = self._signature(PREFIX + "/".join(parts), expires)  # over the decoded path WSGI hands back
        path = PREFIX + "/".join(quote(part, safe="") for part in parts)
        return f"{self.base_url}{path}?Expires={expires}&Signature={signed}"

    def answer(self, environ) -> tuple[str, list, bytes]:
        """The WSGI answer to a GET on a link: the zip, or S3's 403 when the link is forged or expired."""
        path = environ.get("PATH_INFO", "")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            expires = int(query["Expires"][0])
            given = query["Signature"][0]
        except (KeyError, ValueError, IndexError):
            return _denied("Query-string authentication requires the Signature and Expires parameters")
        if not hmac.compare_digest(given, self._signature(path, expires)):
            return _denied("The request signature we calculated does not match the signature you provided.")
        if time.time() > expires:
            return _denied("Request has expired")
        parts = path[len(PREFIX):].split("/")
        if len(parts) != 4:
            return _denied("The link names no function version.")
        body = self._read(*parts) if self._read else None
        if body is None:
            return ("404 Not Found", [("Content-Type", "application/xml")],
                    b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>")
        return "200 OK", [("Content-Type", "application/zip"), ("Content-Length", str(len(body)))], body


def _denied(message: str) -> tuple[str, list, bytes]:
    return ("403 Forbidden", [("Content-Type", "application/xml")],
            f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>".encode())
