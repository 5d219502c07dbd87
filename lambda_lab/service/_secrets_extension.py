"""The AWS Parameters and Secrets Lambda Extension, for functions whose Layers name AWS's published layer.

On AWS the extension is a process in each execution environment: an HTTP server on localhost:2773 (or
PARAMETERS_SECRETS_EXTENSION_HTTP_PORT) that answers GET /secretsmanager/get?secretId=... and
/systemsmanager/parameters/get?name=... with GetSecretValue's and GetParameter's JSON, fetched with the
environment's execution-role credentials and cached for SECRETS_MANAGER_TTL / SSM_PARAMETER_STORE_TTL
seconds. A request must carry X-Aws-Parameters-Secrets-Token equal to AWS_SESSION_TOKEN.

Here one listener on a free loopback port serves every such environment (the worker points its
localhost:<port> there, see runtime/_redirect.py) and tells environments apart by that token: each function's
role session has its own. Calls reach the lab's Secrets Manager and SSM through the loopback endpoint, signed
as the function's role, after the role's policies are checked as IAM would (moto does not check them).

>>> extension_layer("arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12",
...                 "us-east-1")
'parameters-and-secrets'
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qs

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.serving import make_server

from ..runtime._redirect import REDIRECT_VARIABLE, encode
from ._endpoint import _Quiet
from ._permissions import role_allows

__all__ = ["EXTENSION", "LAYER_ACCOUNTS", "SecretsExtension", "extension_layer"]

EXTENSION = "parameters-and-secrets"
DEFAULT_PORT = 2773
DEFAULT_TTL_S = 300  # both TTLs: 300 s by default, and at most 300 s (the extension caps larger values)
DEFAULT_CACHE_SIZE = 1000
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
# The AWS account that publishes the extension's layer in each region (the same for x86_64 and -Arm64),
# from AWS's list of the extension's ARNs (Secrets Manager user guide, "AWS Parameters and Secrets Lambda
# Extension ARNs"), as the AWS CDK's region facts carry it.
LAYER_ACCOUNTS = {
    "af-south-1": "317013901791", "ap-east-1": "768336418462", "ap-northeast-1": "133490724326",
    "ap-northeast-2": "738900069198", "ap-northeast-3": "576959938190", "ap-south-1": "176022468876",
    "ap-south-2": "070087711984", "ap-southeast-1": "044395824272", "ap-southeast-2": "665172237481",
    "ap-southeast-3": "490737872127", "ca-central-1": "200266452380", "cn-north-1": "287114880934",
    "cn-northwest-1": "287310001119", "eu-central-1": "187925254637", "eu-central-2": "772501565639",
    "eu-north-1": "427196147048", "eu-south-1": "325218067255", "eu-south-2": "524103009944",
    "eu-west-1": "015030872274", "eu-west-2": "133256977650", "eu-west-3": "780235371811",
    "me-central-1": "858974508948", "me-south-1": "832021897121", "sa-east-1": "933737806257",
    "us-east-1": "177933569100", "us-east-2": "590474943231", "us-gov-east-1": "129776340158",
    "us-gov-west-1": "127562683043", "us-west-1": "997803712105", "us-west-2": "345057560386",
}
_LAYER = re.compile(r"arn:aws(?:-cn|-us-gov)?:lambda:([a-z0-9-]+):(\d{12}):layer:"
                    r"AWS-Parameters-and-Secrets-Lambda-Extension(?:-Arm64)?:[1-9]\d*")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the loopback endpoint, never via HTTP_PROXY
# path: (service for SigV4, X-Amz-Target, IAM action, the query's required parameter)
_ROUTES = {
    "/secretsmanager/get": ("secretsmanager", "secretsmanager.GetSecretValue", "secretsmanager:GetSecretValue",
                            "secretId"),
    "/systemsmanager/parameters/get": ("ssm", "AmazonSSM.GetParameter", "ssm:GetParameter", "name"),
}


def extension_layer(arn: str, region: str) -> str | None:
    """The extension an AWS-published layer version brings to a function in `region`; None for other layers."""
    found = _LAYER.fullmatch(arn or "")
    if found is None or found.group(1) != region or LAYER_ACCOUNTS.get(region) != found.group(2):
        return None
    return EXTENSION


@dataclass(frozen=True)
class _Session:
    """One function's view of the extension: who it calls as, and its cache settings."""

    account: str
    region: str
    role: str
    function_name: str
    credentials: Credentials
    ttl_s: dict  # service: seconds, 0 = not cached
    cache_size: int


class SecretsExtension:
    """The lab's side of the extension: a loopback listener, started when the first such environment starts."""

    def __init__(self, endpoint_url: str, role_documents: Callable[[str, str], list]) -> None:
        self.endpoint_url = endpoint_url
        self.role_documents = role_documents
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}  # AWS_SESSION_TOKEN: session
        self._cache: OrderedDict = OrderedDict()  # (token, path, query): (expires monotonic, body)
        self._server = self._thread = None
        self._stopped = False

    def environment(self, config, env: dict[str, str]) -> dict[str, str]:
        """The variables of a new environment of `config` (whose `env` so far holds its role session)."""
        token = env.get("AWS_SESSION_TOKEN")
        if EXTENSION not in config.extensions or not token:
            return {}
        port = self._ensure_listener()
        if port is None:  # the lab is stopping: nothing to point at
            return {}
        session = _Session(config.account_id, config.region, config.role, config.function_name,
                           Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], token),
                           _ttls(env), _cache_size(env))
        with self._lock:
            self._sessions[token] = session
            # a new environment's extension starts with an empty cache (its function's older ones refetch too)
            for key in [k for k in self._cache if k[0] == token]:
                del self._cache[key]
        return {REDIRECT_VARIABLE: encode({_port(env): port})}

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._thread.join(timeout=5)

    # -- the listener --------------------------------------------------------------------------
    def _ensure_listener(self) -> int | None:
        """The listener's port, starting it if need be; None once stopped."""
        with self._lock:
            if self._server is None and not self._stopped:
                self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
                self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                                name="lambda-lab-secrets-extension", daemon=True)
                self._thread.start()
            return None if self._server is None else self._server.server_port

    def _app(self, environ, start_response):
        status, body = self._answer(environ)
        start_response(status, [("Content-Type", "application/json" if status.startswith("200") else
                                 "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    def _answer(self, environ) -> tuple[str, bytes]:
        with self._lock:
            session = self._sessions.get(environ.get("HTTP_" + TOKEN_HEADER.upper().replace("-", "_"), ""))
        if session is None:  # missing or not this environment's AWS_SESSION_TOKEN
            return "401 Unauthorized", (f"Missing or invalid {TOKEN_HEADER} header: send the function's "
                                        "AWS_SESSION_TOKEN in it.").encode()
        path = environ.get("PATH_INFO", "")
        route = _ROUTES.get(path)
        if route is None:
            return "404 Not Found", (f"Unknown path {path}: the extension answers GET /secretsmanager/get?secretId="
                                     "... and GET /systemsmanager/parameters/get?name=...").encode()
        if environ.get("REQUEST_METHOD") != "GET":
            return "405 Method Not Allowed", b"The extension answers GET requests only."
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        service, target, action, required = route
        if not query.get(required):
            return "400 Bad Request", f"The query parameter {required} is required, e.g. {path}?{required}=...".encode()
        ttl = session.ttl_s[service]
        key = (session.credentials.token, path, tuple(sorted(query.items())))
        now = time.monotonic()
        if ttl and session.cache_size:
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None and cached[0] > now:
                    self._cache.move_to_end(key)
                    return "200 OK", cached[1]
        status, body = self._fetch(session, service, target, action, _request_body(service, query))
        if status.startswith("200") and ttl and session.cache_size:
            with self._lock:
                self._cache[key] = (now + ttl, body)
                self._cache.move_to_end(key)
                mine = [k for k in self._cache if k[0] == key[0]]
                for old in mine[:max(0, len(mine) - session.cache_size)]:
                    del self._cache[old]
        return status, body

    def _fetch(self, session: _Session, service: str, target: str, action: str, body: dict) -> tuple[str, bytes]:
        """The service's answer to the call the extension makes as the function's execution role."""
        name = body.get("SecretId") or body.get("Name")
        if not role_allows(self.role_documents(session.account, session.role), action):
            role = session.role.rsplit("/", 1)[-1]
            caller = f"arn:aws:sts::{session.account}:assumed-role/{role}/{session.function_name}"
            resource = name if service == "secretsmanager" else \
                f"arn:aws:ssm:{session.region}:{session.account}:parameter/{name.split(':')[0].lstrip('/')}"
            message = (f"User: {caller} is not authorized to perform: {action} on resource: {resource} because no "
                       f"identity-based policy allows the {action} action")
            return "400 Bad Request", _service_error(action, 400, "AccessDeniedException", message)
        data = json.dumps(body).encode()
        request = AWSRequest("POST", self.endpoint_url + "/", data=data, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
        SigV4Auth(session.credentials, service, session.region).add_auth(request)
        call = urllib.request.Request(request.url, data=data, method="POST", headers=dict(request.headers.items()))
        try:
            with _DIRECT.open(call, timeout=30) as answer:
                return "200 OK", answer.read()
        except urllib.error.HTTPError as error:  # the service's refusal, relayed as the extension relays it
            payload = error.read()
            try:
                found = json.loads(payload)
                code = found.get("__type", "").rsplit("#", 1)[-1]
                message = found.get("message") or found.get("Message") or ""
            except ValueError:
                code, message = "ServiceError", payload.decode("utf-8", "replace")
            # both services answer every client error with 400 (moto says 404 for a missing secret)
            status = 400 if 400 <= error.code < 500 else error.code
            reason = "Bad Request" if status == 400 else error.reason
            return f"{status} {reason}", _service_error(action, status, code, message)


def _service_error(action: str, status: int, code: str, message: str) -> bytes:
    """The extension's words for a failed call: the SDK's error, as it logs and returns it."""
    service, operation = action.split(":")
    label = {"secretsmanager": "Secrets Manager", "ssm": "SSM"}[service]
    return (f"operation error {label}: {operation}, https response error StatusCode: {status}, "
            f"api error {code}: {message}").encode()


def _request_body(service: str, query: dict) -> dict:
    if service == "secretsmanager":
        body = {"SecretId": query["secretId"]}
        for name, field in (("versionId", "VersionId"), ("versionStage", "VersionStage")):
            if query.get(name):
                body[field] = query[name]
        return body
    name = query["name"]
    selector = query.get("version") or query.get("label")  # GetParameter reads "name:version" or "name:label"
    return {"Name": f"{name}:{selector}" if selector else name,
            "WithDecryption": query.get("withDecryption", "false").lower() == "true"}


def _port(env: dict[str, str]) -> int:
    """PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, 1-65535; the default 2773 otherwise."""
    try:
        port = int(env.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", DEFAULT_PORT))
    except ValueError:
        return DEFAULT_PORT
    return port if 0 < port < 65536 else DEFAULT_PORT


def _ttls(env: dict[str, str]) -> dict[str, int]:
    """Seconds each service's answers are cached: 0 to 300 (larger values are capped), 300 by default."""
    enabled = env.get("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "true").strip().lower() != "false"
    ttls = {}
    for service, variable in (("secretsmanager", "SECRETS_MANAGER_TTL"), ("ssm", "SSM_PARAMETER_STORE_TTL")):
        try:
            seconds = int(env.get(variable, DEFAULT_TTL_S))
        except ValueError:
            seconds = DEFAULT_TTL_S
        ttls[service] = min(max(seconds, 0), DEFAULT_TTL_S) if enabled else 0
    return ttls


def _cache_size(env: dict[str, str]) -> int:
    try:
        return min(max(int(env.get("PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE", DEFAULT_CACHE_SIZE)), 0), 1000)
    except ValueError:
        return DEFAULT_CACHE_SIZE
