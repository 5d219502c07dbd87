"""What a lab created, so that `lab.cleanup()` removes exactly that and never anything else.

The recorder listens to boto3's default session (the one `boto3.client(...)` uses): every successful
create call that made something new is written down, and requests that accept tags get the lab's tags.
On a real account the record is also kept in a file, so clean-up works after a crash or in a new kernel.
The lab's identity there is a random id made once per installation (`install_id`), never a user name:
Binder and JupyterHub run every learner as the same OS user.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import secrets
import tempfile
import threading
import time
import warnings
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

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
    ("cloudformation", "CreateStack"): ("stack", lambda p, r: p["StackName"]),
    ("cloudwatch", "PutMetricAlarm"): ("alarm", lambda p, r: p["AlarmName"]),
    ("secretsmanager", "CreateSecret"): ("secret", lambda p, r: r["ARN"]),
    ("ssm", "PutParameter"): ("parameter", lambda p, r: p["Name"]),
    ("ec2", "CreateVpc"): ("vpc", lambda p, r: r["Vpc"]["VpcId"]),
    ("ec2", "CreateSubnet"): ("subnet", lambda p, r: r["Subnet"]["SubnetId"]),
    ("ec2", "CreateSecurityGroup"): ("security-group", lambda p, r: r["GroupId"]),
}
# where a create request takes tags, and in which shape
_TAGGABLE = {
    ("lambda", "CreateFunction"): ("Tags", "map"), ("lambda", "CreateEventSourceMapping"): ("Tags", "map"),
    ("sqs", "CreateQueue"): ("tags", "map"), ("sns", "CreateTopic"): ("Tags", "list"),
    ("dynamodb", "CreateTable"): ("Tags", "list"), ("iam", "CreateRole"): ("Tags", "list"),
    ("iam", "CreatePolicy"): ("Tags", "list"), ("events", "PutRule"): ("Tags", "list"),
    ("kinesis", "CreateStream"): ("Tags", "map"), ("apigateway", "CreateRestApi"): ("tags", "map"),
    ("apigatewayv2", "CreateApi"): ("Tags", "map"), ("kms", "CreateKey"): ("Tags", "kms"),
    ("cloudformation", "CreateStack"): ("Tags", "list"),  # CloudFormation passes a stack's tags to its resources
    ("cloudwatch", "PutMetricAlarm"): ("Tags", "list"), ("secretsmanager", "CreateSecret"): ("Tags", "list"),
    ("ec2", "CreateVpc"): ("TagSpecifications", "ec2:vpc"), ("ec2", "CreateSubnet"): ("TagSpecifications", "ec2:subnet"),
    ("ec2", "CreateSecurityGroup"): ("TagSpecifications", "ec2:security-group"),
}
# "creates" that answer 200 for a name that already exists (an upsert for PutRule): only a look first tells
# whether the call made something, and what existed before the lab is never the lab's to tag or delete
_MISSING = {"404", "NoSuchBucket", "NotFound", "NotFoundException", "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist", "ResourceNotFoundException", "ParameterNotFound"}
_LOOK = {
    ("s3", "CreateBucket"): lambda c, p, account: c.head_bucket(Bucket=p["Bucket"]),
    ("sqs", "CreateQueue"): lambda c, p, account: c.get_queue_url(QueueName=p["QueueName"]),
    ("sns", "CreateTopic"): lambda c, p, account: c.get_topic_attributes(
        TopicArn=f"arn:{c.meta.partition}:sns:{c.meta.region_name}:{account}:{p['Name']}"),
    ("events", "PutRule"): lambda c, p, account: c.describe_rule(
        Name=p["Name"], **({"EventBusName": p["EventBusName"]} if p.get("EventBusName") else {})),
    ("cloudwatch", "PutMetricAlarm"): lambda c, p, account: found(
        c.describe_alarms(AlarmNames=[p["AlarmName"]])["MetricAlarms"], "DescribeAlarms"),
    ("ssm", "PutParameter"): lambda c, p, account: c.get_parameter(Name=p["Name"]),  # Overwrite=True updates
}


def found(items: list, operation: str) -> list:
    """`items`, or the "not there" error a look (or a clean-up) expects when a list answers empty instead."""
    if not items:
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not there"}}, operation)
    return items


_HOOKS = (("creating-client-class", "lambda-lab-client"), ("before-parameter-build", "lambda-lab-tags"),
          ("after-call", "lambda-lab-record"))
_ID = re.compile(r"[0-9a-f]{16}")
_CLIENT = contextvars.ContextVar("lambda_lab_client", default=None)  # the client whose call the hooks see


def lab_home() -> Path:
    """Where a remote lab keeps its install id and records: LAMBDA_LAB_HOME, or ~/.lambda-lab."""
    return Path(os.environ.get("LAMBDA_LAB_HOME") or Path.home() / ".lambda-lab")


def install_id(home: Path) -> str:
    """This installation's random id (16 hex digits), made once in `home`/install-id: the lab's identity."""
    path = home / "install-id"
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for _ in range(3):
            try:
                text = path.read_text().strip()
            except FileNotFoundError:
                _create_once(path, secrets.token_hex(8))
                continue
            if _ID.fullmatch(text):
                return text
            _set_aside(path, "is not a lambda-lab install id", "This is a new identity: lab.cleanup() will not "
                       "remove what the old one made (search the account for the lambda-lab tag).")
    except OSError as error:
        raise RuntimeError(f"lambda-lab keeps its install id and clean-up records in {home} and cannot use it "
                           f"({error}). Set LAMBDA_LAB_HOME to a folder you can write to.") from None
    raise RuntimeError(f"{path} keeps changing under lambda-lab; remove it and start the lab again.")


def _create_once(path: Path, text: str) -> None:
    """Write `path` only if it does not exist, all at once (0600): two kernels starting together agree."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # atomic and never replaces: the first kernel's id wins
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _set_aside(path: Path, why: str, then: str) -> None:
    """Keep an unreadable file for the learner to look at, and say so: never a reason for the lab not to start."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}")
    os.replace(path, aside)
    warnings.warn(f"lambda-lab: {path} {why}; kept it as {aside} and started afresh. {then}", stacklevel=4)


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class _KnowsItsClient:
    """Mixed into clients made while a lab listens, so that its hooks can ask the calling client itself."""

    def _make_api_call(self, operation_name, api_params):
        __tracebackhide__ = True  # noqa: F841  (IPython and pytest leave this frame out of a learner's traceback)
        token = _CLIENT.set(self)
        try:
            return super()._make_api_call(operation_name, api_params)
        finally:
            _CLIENT.reset(token)


class Recorder:
    """Hooks boto3's default session; `created` lists (kind, id) pairs in creation order."""

    def __init__(self, lab_id: str, learner: str, path: Path | None = None, account: str | None = None,
                 tagging: bool = True) -> None:
        self.lab_id, self.learner, self.path, self.account = lab_id, learner, path, account
        # tags tell this installation's resources from others' on a shared account; a local AWS is the lab's alone
        self.tagging = tagging
        self._lock = threading.Lock()
        self.created: list[tuple[str, str]] = self._load() if path is not None and path.exists() else []
        self.since_start: list[tuple[str, str]] = []  # what this lab made (this kernel), for lab.cleanup(this_notebook)
        self._session = None

    def _load(self) -> list[tuple[str, str]]:
        """A record a crashed kernel left behind; one that cannot be read is kept aside, never a reason not to start."""
        try:
            items = json.loads(self.path.read_text())
            if isinstance(items, list) and all(isinstance(i, list) and len(i) == 2 and all(isinstance(x, str)
                                                                                          for x in i) for i in items):
                return [tuple(item) for item in items]
        except (ValueError, UnicodeDecodeError):
            pass
        _set_aside(self.path, "is not a readable lambda-lab record (a crash while it was written?)",
                   "lab.cleanup() still finds functions, topics and tables by this lab's tag; delete anything else "
                   "it listed by hand (it carries the lambda-lab tag).")
        return []

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_LAB: self.lab_id, TAG_LEARNER: self.learner}

    def attach(self) -> None:
        """Listen to the default session that plain `boto3.client(...)` calls use from now on."""
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        self._session = boto3.DEFAULT_SESSION
        events = self._session.events
        for event, unique_id in _HOOKS:  # botocore keeps the first handler of an id: never a stale lab's
            events.unregister(event, unique_id=unique_id)
        events.register("creating-client-class", _know_its_client, unique_id="lambda-lab-client")
        events.register("before-parameter-build", self._add_tags, unique_id="lambda-lab-tags")
        events.register("after-call", self._record, unique_id="lambda-lab-record")

    def detach(self) -> None:
        if self._session is not None:
            for event, unique_id in _HOOKS:
                self._session.events.unregister(event, unique_id=unique_id)
            self._session = None

    def add(self, kind: str, identifier: str) -> None:
        with self._lock:
            if (kind, identifier) not in self.since_start:
                self.since_start.append((kind, identifier))
            if (kind, identifier) not in self.created:
                self.created.append((kind, identifier))
                self._save()

    def forget(self, kind: str, identifier: str) -> None:
        with self._lock:
            if (kind, identifier) in self.since_start:
                self.since_start.remove((kind, identifier))
            if (kind, identifier) in self.created:
                self.created.remove((kind, identifier))
                self._save()

    def _save(self) -> None:
        if self.path is not None:
            _write_atomically(self.path, json.dumps(self.created))

    def _existed(self, key, params) -> bool:
        """Whether the resource an idempotent "create" names is already there (asked through the same client)."""
        client = _CLIENT.get()
        if client is None:
            client = self._session.client(key[0])
        try:
            _LOOK[key](client, params, self.account)
        except ClientError as error:
            # anything but "not there" (no permission to look, say) counts as there: never claim what may be another's
            return error.response.get("Error", {}).get("Code") not in _MISSING
        except KeyError:  # a malformed request: the create call itself will say what is wrong
            return False
        return True

    def _add_tags(self, params, model, context=None, **_) -> None:
        if self._session is None:  # botocore copies hooks into clients: an older client may still call a stopped lab
            return
        key = (model.service_model.service_name, model.name)
        if context is not None and key in _CREATES:
            context["lambda_lab_params"] = dict(params)  # after-call sees only the response
            if key in _LOOK and self._existed(key, params):
                context["lambda_lab_existed"] = True
                return  # not the lab's: left untagged, and not recorded
        if not self.tagging:
            return
        if key == ("s3", "PutBucketTagging") and ("bucket", params.get("Bucket")) in self.created:
            tagging = params.setdefault("Tagging", {})  # S3 replaces the whole tag set: keep the lab's own
            tagging["TagSet"] = _merged_list(tagging.get("TagSet") or [], self.tags)
            return
        if key not in _TAGGABLE:
            return
        field, shape = _TAGGABLE[key]
        if shape == "map":
            params[field] = {**self.tags, **(params.get(field) or {})}
        elif shape.startswith("ec2:"):  # one tag list per resource type, in TagSpecifications
            specs = [dict(spec) for spec in params.get(field) or []]
            mine = next((spec for spec in specs if spec.get("ResourceType") == shape[4:]), None)
            if mine is None:
                mine = {"ResourceType": shape[4:], "Tags": []}
                specs.append(mine)
            mine["Tags"] = _merged_list(mine.get("Tags") or [], self.tags)
            params[field] = specs
        elif shape == "kms":
            given = params.get(field) or []
            names = {t.get("TagKey") for t in given}
            params[field] = given + [{"TagKey": k, "TagValue": v} for k, v in self.tags.items() if k not in names]
        else:
            params[field] = _merged_list(params.get(field) or [], self.tags)

    def _record(self, http_response, parsed, model, **kwargs) -> None:
        if self._session is None:
            return
        key = (model.service_model.service_name, model.name)
        status = (parsed or {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        context = kwargs.get("context") or {}
        if key in _CREATES and 200 <= status < 300 and "Error" not in parsed and not context.get("lambda_lab_existed"):
            kind, find = _CREATES[key]
            params = context.get("lambda_lab_params") or {}
            try:
                identifier = find(params, parsed)
            except (KeyError, TypeError):
                return
            self.add(kind, identifier)
            self._tag_after(key, identifier)

    def _tag_after(self, key, identifier: str) -> None:
        """Tags for what cannot take them in its create request (S3), or whose endpoint drops them (moto's Kinesis)."""
        client = _CLIENT.get()
        if not self.tagging or client is None or key not in (("s3", "CreateBucket"), ("kinesis", "CreateStream")):
            return
        if key[0] == "kinesis":
            try:  # AWS applied the request's Tags already (and refuses tagging a stream still CREATING)
                if not client.list_tags_for_stream(StreamName=identifier).get("Tags"):
                    client.add_tags_to_stream(StreamName=identifier, Tags=self.tags)
            except ClientError:
                pass
            return
        try:
            client.put_bucket_tagging(Bucket=identifier, Tagging={"TagSet": _merged_list([], self.tags)})
        except ClientError as error:  # untagged, clean-up will leave it and say so; the create itself succeeded
            warnings.warn(f"lambda-lab could not tag bucket {identifier} ({error}); lab.cleanup() will leave it.",
                          stacklevel=2)


def _know_its_client(base_classes, **_) -> None:
    if _KnowsItsClient not in base_classes:
        base_classes.insert(0, _KnowsItsClient)


def _merged_list(given: list, tags: dict[str, str]) -> list:
    names = {t.get("Key") for t in given}
    return given + [{"Key": k, "Value": v} for k, v in tags.items() if k not in names]
