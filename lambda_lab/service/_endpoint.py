"""The lab's AWS on a loopback port, so handler code in worker processes reaches the same in-memory state.

It listens on 127.0.0.1 only and answers nothing that is not SigV4-signed with this lab's own generated
credentials, dated within AWS's 15-minute window: on a shared classroom host another user's process cannot
read or change a learner's lab, nor replay a request it saw.
"""

from __future__ import annotations

import functools
import hmac
import io
import json
import re
import secrets
import string
import threading
import time
from calendar import timegm
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import get_session
from werkzeug.serving import WSGIRequestHandler, make_server

from ._code_location import PREFIX as CODE_PREFIX, CodeLocations

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                   r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")
MAX_SKEW_S = 15 * 60  # AWS refuses a signature dated more than 15 minutes from its own clock, either way
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
BAD_KEY = "The security token included in the request is invalid."
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                 "Secret Access Key and signing method. Consult the service documentation for details.")
# Error codes by refusal and by the protocol the caller's SDK parses (JSON, query XML, S3's XML)
_CODES = {"key": {"json": "UnrecognizedClientException", "query": "InvalidClientTokenId", "s3": "InvalidAccessKeyId"},
          "signature": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch",
                        "s3": "SignatureDoesNotMatch"},
          "expired": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch",
                      "s3": "RequestTimeTooSkewed"}}
S3_SKEWED = "The difference between the request time and the current time is too large."


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data names, in every partition (the regions moto serves)."""
    session = get_session()
    return frozenset(region for partition in session.get_available_partitions()
                     for region in session.get_available_regions("lambda", partition_name=partition))


def generate_credentials() -> dict[str, str]:
    """Fresh credentials in AWS's shapes, never used anywhere but this lab."""
    upper = string.ascii_uppercase + string.digits
    return {"AWS_ACCESS_KEY_ID": "AKIA" + "".join(secrets.choice(upper) for _ in range(16)),
            "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30)[:40],
            "AWS_SESSION_TOKEN": secrets.token_urlsafe(48)}


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # one line per handler call would flood the notebook
        pass

    def log(self, *args, **kwargs):
        pass


class SignedOnly:
    """WSGI middleware: pass on a request only if its SigV4 signature is this lab's."""

    def __init__(self, app, credentials: dict[str, str]) -> None:
        self.app = app
        self.key = credentials["AWS_ACCESS_KEY_ID"]
        self.creds = Credentials(self.key, credentials["AWS_SECRET_ACCESS_KEY"], credentials["AWS_SESSION_TOKEN"])
        self._keys = {self.key: self.creds}

    def admit(self, credentials: dict[str, str]) -> None:
        """Also pass on requests signed with `credentials` (an execution role's session for one function)."""
        key = credentials["AWS_ACCESS_KEY_ID"]
        self._keys[key] = Credentials(key, credentials["AWS_SECRET_ACCESS_KEY"], credentials["AWS_SESSION_TOKEN"])

    code: CodeLocations | None = None  # GetFunction's package links, presigned rather than SigV4-signed

    def __call__(self, environ, start_response):
        if self.code is not None and environ.get("PATH_INFO", "").startswith(CODE_PREFIX):
            status, headers, answer = self.code.answer(environ)
            start_response(status, headers)
            return [answer]
        body = self._body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        refused = self.refusal(environ, body)
        if refused:
            status, headers, answer = _refusal_response(environ, *refused)
            start_response(status, headers)
            return [answer]
        return self.app(environ, start_response)

    @staticmethod
    def _body(environ) -> bytes:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            return stream.read(int(length))
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return stream.read()
        return b""

    def verify(self, environ, body: bytes, regions=None) -> bool:
        """True if this lab signed the request, within the time window."""
        return self.refusal(environ, body, regions) is None

    def refusal(self, environ, body: bytes, regions=None, now: float | None = None) -> tuple[str, str] | None:
        """None if this lab signed the request; else (key, signature or expired; AWS's message) saying why not.

        `regions`: the regions the credential scope may name (default: every region botocore knows).
        """
        match = _AUTH.fullmatch(environ.get("HTTP_AUTHORIZATION", "").strip())
        if not match:
            return "key", BAD_KEY
        key, scope_date, region, service, signed, signature = match.groups()
        creds = self._keys.get(key)
        if creds is None:
            return "key", BAD_KEY
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:  # else the date or the target could be swapped
            return "signature", "SignedHeaders must include host and x-amz-date. " + BAD_SIGNATURE
        headers = {}
        for name in names:
            meta = "CONTENT_TYPE" if name == "content-type" else "CONTENT_LENGTH" if name == "content-length" \
                else "HTTP_" + name.upper().replace("-", "_")
            if meta not in environ:
                return "signature", BAD_SIGNATURE
            headers[name] = environ[meta]
        if headers.get("x-amz-security-token", creds.token) != creds.token:
            return "key", BAD_KEY
        amz_date = headers["x-amz-date"]
        try:
            signed_at = timegm(time.strptime(amz_date, _AMZ_DATE))
        except ValueError:
            return "signature", f"X-Amz-Date {amz_date!r} is not in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'."
        if scope_date != amz_date[:8]:
            return "signature", (f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                                 f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.")
        if region not in (known_regions() if regions is None else regions):
            return "signature", f"Credential should be scoped to a valid region, not '{region}'."
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=f"http://{environ.get('HTTP_HOST')}{raw_uri}",
                             headers=headers, data=body)
        request.context["timestamp"] = amz_date
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, signature):
            return "signature", BAD_SIGNATURE
        now = time.time() if now is None else now
        if abs(now - signed_at) > MAX_SKEW_S:  # a replayed request, or a clock far off
            return "expired", _expired(amz_date, signed_at < now, now)
        return None


def _expired(amz_date: str, past: bool, now: float) -> str:
    """AWS's words for a signature outside the window."""
    fmt = lambda t: time.strftime(_AMZ_DATE, time.gmtime(t))  # noqa: E731
    if past:
        return f"Signature expired: {amz_date} is now earlier than {fmt(now - MAX_SKEW_S)} ({fmt(now)} - 15 min.)"
    return f"Signature not yet current: {amz_date} is still later than {fmt(now + MAX_SKEW_S)} ({fmt(now)} + 15 min.)"


def _protocol(environ) -> str:
    """Which error shape the caller's SDK parses: S3's XML, the query protocol's XML, or JSON."""
    found = _AUTH.fullmatch(environ.get("HTTP_AUTHORIZATION", "").strip())
    if found and found.group(4) == "s3":
        return "s3"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") and "HTTP_X_AMZ_TARGET" not in environ:
        return "query"
    return "json"


def _refusal_response(environ, kind: str, message: str) -> tuple[str, list, bytes]:
    """403 with the code and body shape the service would send, so boto3 raises a ClientError that says why."""
    protocol = _protocol(environ)
    code = _CODES[kind][protocol]
    if protocol == "json":
        return "403 Forbidden", [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], \
            json.dumps({"__type": code, "message": message}).encode()
    if protocol == "s3":
        text = S3_SKEWED if kind == "expired" else message
        xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{escape(text)}"
               f"</Message></Error>")
    else:
        xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
               f"</Error><RequestId>{secrets.token_hex(16)}</RequestId></ErrorResponse>")
    return "403 Forbidden", [("Content-Type", "text/xml")], xml.encode()


class LoopbackEndpoint:
    """moto's server app over the lab's own backends, on 127.0.0.1 and a free port."""

    def __init__(self, credentials: dict[str, str]) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from ._recursion import Traced  # a handler's trace header reaches what its request causes

        self._guard = SignedOnly(Traced(DomainDispatcherApplication(create_backend_app)), credentials)
        self._server = make_server("127.0.0.1", 0, self._guard, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.code_locations = self._guard.code = CodeLocations()
        self.code_locations.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),  # stop() waits one poll
                                        name="lambda-lab-endpoint", daemon=True)
        self._thread.start()

    def admit(self, credentials: dict[str, str]) -> None:
        """Accept requests signed with these credentials too."""
        self._guard.admit(credentials)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
