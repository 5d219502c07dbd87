"""The lab's AWS on a loopback port, so handler code in worker processes reaches the same in-memory state.

It listens on 127.0.0.1 only and answers nothing that is not SigV4-signed with this lab's own generated
credentials: on a shared classroom host another user's process cannot read or change a learner's lab.
"""

from __future__ import annotations

import hmac
import io
import json
import re
import secrets
import string
import threading

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.serving import WSGIRequestHandler, make_server

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                   r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")


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

    def __call__(self, environ, start_response):
        body = self._body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if not self.verify(environ, body):
            message = {"__type": "UnrecognizedClientException",
                       "message": "The security token included in the request is invalid."}
            start_response("403 Forbidden", [("Content-Type", "application/json"),
                                              ("x-amzn-ErrorType", "UnrecognizedClientException")])
            return [json.dumps(message).encode()]
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

    def verify(self, environ, body: bytes) -> bool:
        match = _AUTH.fullmatch(environ.get("HTTP_AUTHORIZATION", "").strip())
        if not match:
            return False
        key, _, region, service, signed, signature = match.groups()
        if key != self.key:
            return False
        headers = {}
        for name in signed.split(";"):
            meta = "CONTENT_TYPE" if name == "content-type" else "CONTENT_LENGTH" if name == "content-length" \
                else "HTTP_" + name.upper().replace("-", "_")
            if meta not in environ:
                return False
            headers[name] = environ[meta]
        if headers.get("x-amz-security-token", self.creds.token) != self.creds.token:
            return False
        amz_date = headers.get("x-amz-date")
        if not amz_date:
            return False
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=f"http://{environ.get('HTTP_HOST')}{raw_uri}",
                             headers=headers, data=body)
        request.context["timestamp"] = amz_date
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(self.creds, service, region)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        return hmac.compare_digest(expected, signature)


class LoopbackEndpoint:
    """moto's server app over the lab's own backends, on 127.0.0.1 and a free port."""

    def __init__(self, credentials: dict[str, str]) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        app = SignedOnly(DomainDispatcherApplication(create_backend_app), credentials)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-lab-endpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
