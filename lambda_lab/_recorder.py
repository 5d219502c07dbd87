"""What a lab created, so that `lab.cleanup()` removes exactly that and never anything else.

The recorder listens to boto3's default session (the one `boto3.client(...)` uses): every successful
create call is written down, and requests that accept tags get the lab's tags. On a real account the
record is also kept in a file, so clean-up works after a crash or in a new kernel.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3

TAG_LAB, TAG_LEARNER = "lambda-lab", "lambda-lab-learner"

# (service, operation) -> (kind, how to find the id in (params, response))
_CREATES = {
    ("lambda", "CreateFunction"): ("function", lambda p, r: r["FunctionName"]),
    ("lambda", "CreateEventSourceMapping"): ("event-source-mapping", lambda p, r: r["UUID"]),
    ("lambda", "PublishLayerVersion"): ("layer-version", lambda p, r: r["LayerVersionArn"]),
    ("iam", "CreateRole"): ("role", lambda p, r: r["Role"]["RoleName"]),
    ("iam", "CreatePolicy"): ("policy", lambda p, r: r["Policy"]["Arn"]),
    ("sqs", "CreateQueue"): ("queue", lambda p, r: r["QueueUrl"]),
    ("sns", "CreateTopic"): ("topic", lambda p, r: r["TopicArn"]),
    ("dynamodb", "CreateTable"): ("table", lambda p, r: r["TableDescription"]["TableName"]),
    ("s3", "CreateBucket"): ("bucket", lambda p, r: p["Bucket"]),
    ("events", "PutRule"): ("rule", lambda p, r: json.dumps([p.get("EventBusName", "default"), p["Name"]])),
    ("kinesis", "CreateStream"): ("stream", lambda p, r: p["StreamName"]),
    ("apigateway", "CreateRestApi"): ("rest-api", lambda p, r: r["id"]),
    ("apigatewayv2", "CreateApi"): ("http-api", lambda p, r: r["ApiId"]),
    ("kms", "CreateKey"): ("kms-key", lambda p, r: r["KeyMetadata"]["KeyId"]),
}
# where a create request takes tags, and in which shape
_TAGGABLE = {
    ("lambda", "CreateFunction"): ("Tags", "map"), ("sqs", "CreateQueue"): ("tags", "map"),
    ("sns", "CreateTopic"): ("Tags", "list"), ("dynamodb", "CreateTable"): ("Tags", "list"),
    ("iam", "CreateRole"): ("Tags", "list"), ("events", "PutRule"): ("Tags", "list"),
    ("kinesis", "CreateStream"): ("Tags", "map"),
}


class Recorder:
    """Hooks boto3's default session; `created` lists (kind, id) pairs in creation order."""

    def __init__(self, lab_id: str, learner: str, path: Path | None = None) -> None:
        self.lab_id, self.learner, self.path = lab_id, learner, path
        self._lock = threading.Lock()
        self.created: list[tuple[str, str]] = []
        if path is not None and path.exists():  # a record a crashed kernel left behind
            self.created = [tuple(item) for item in json.loads(path.read_text())]
        self._session = None

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_LAB: self.lab_id, TAG_LEARNER: self.learner}

    def attach(self) -> None:
        """Listen to the default session that plain `boto3.client(...)` calls use from now on."""
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        self._session = boto3.DEFAULT_SESSION
        events = self._session.events
        events.register("before-parameter-build", self._add_tags, unique_id="lambda-lab-tags")
        events.register("after-call", self._record, unique_id="lambda-lab-record")

    def detach(self) -> None:
        if self._session is not None:
            self._session.events.unregister("before-parameter-build", unique_id="lambda-lab-tags")
            self._session.events.unregister("after-call", unique_id="lambda-lab-record")
            self._session = None

    def add(self, kind: str, identifier: str) -> None:
        with self._lock:
            if (kind, identifier) not in self.created:
                self.created.append((kind, identifier))
                self._save()

    def forget(self, kind: str, identifier: str) -> None:
        with self._lock:
            if (kind, identifier) in self.created:
                self.created.remove((kind, identifier))
                self._save()

    def _save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.created))

    def _add_tags(self, params, model, context=None, **_) -> None:
        if self._session is None:  # botocore copies hooks into clients: an older client may still call a stopped lab
            return
        key = (model.service_model.service_name, model.name)
        if context is not None and key in _CREATES:
            context["lambda_lab_params"] = dict(params)  # after-call sees only the response
        if key not in _TAGGABLE:
            return
        field, shape = _TAGGABLE[key]
        if shape == "map":
            params[field] = {**self.tags, **(params.get(field) or {})}
        else:
            given = params.get(field) or []
            names = {t.get("Key") for t in given}
            params[field] = given + [{"Key": k, "Value": v} for k, v in self.tags.items() if k not in names]

    def _record(self, http_response, parsed, model, **kwargs) -> None:
        if self._session is None:
            return
        key = (model.service_model.service_name, model.name)
        status = (parsed or {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if key in _CREATES and 200 <= status < 300 and "Error" not in parsed:
            kind, find = _CREATES[key]
            params = kwargs.get("context", {}).get("lambda_lab_params") or {}
            try:
                self.add(kind, find(params, parsed))
            except (KeyError, TypeError):
                pass
