"""The moto internals the bridge relies on are still where it expects them (moto is pinned for this)."""

import inspect
import time
from importlib.metadata import version

import boto3

from moto.awslambda.models import LambdaAlias, LambdaBackend, LambdaFunction, LambdaStorage
from moto.awslambda.responses import LambdaResponse
from moto.codedeploy.responses import CodeDeployResponse
from moto.logs.models import LogGroup

from lambda_lab.service import _moto as bridge
from lambda_lab.service._moto._codedeploy import ADDED_ACTIONS as CODEDEPLOY_ADDED


def test_moto_is_the_pinned_version():
    assert version("moto") == bridge.MOTO_VERSION


def test_patched_methods_exist_with_the_expected_signatures():
    for (owner, attr) in {**bridge.PATCHED, **bridge.lazy_patches()}:
        if attr == "url_paths":  # moto's URL table for Lambda (the lab adds GetAccountSettings's path), or the
            table = getattr(owner, attr)  # lab's route table over it (a property: provisioned-concurrency's path)
            table = table.fget(owner()) if isinstance(table, property) else table
            assert isinstance(table, dict) and any("/functions$" in p for p in table)
            continue
        if attr == "_url_module":  # moto's route table, read through this property: the lab adds recursion-config
            from moto.core.base_backend import BaseBackend

            assert isinstance(inspect.getattr_static(BaseBackend, attr), property)
            continue
        if attr == "describe_alarm_history" or (owner is CodeDeployResponse and attr in CODEDEPLOY_ADDED):
            # moto has no DescribeAlarmHistory nor these CodeDeploy actions: the lab adds them (while installed)
            assert bridge._state.originals or attr not in owner.__dict__
            continue
        assert callable(getattr(owner, attr)), (owner, attr)
    assert list(inspect.signature(LambdaBackend.invoke).parameters) == [
        "self", "function_name", "qualifier", "body", "headers", "response_headers"]
    assert list(inspect.signature(LambdaFunction.invoke).parameters) == [
        "self", "body", "request_headers", "response_headers"]


def test_records_the_bridge_reads():
    storage = inspect.getsource(LambdaStorage)
    for needle in ('self._functions[fn.function_name] = {"latest": fn, "versions": []}', "def _get_version",
                   "self._aliases: dict[str, dict[str, LambdaAlias]]"):
        assert needle in storage, needle
    function = inspect.getsource(LambdaFunction)
    for attribute in ("self.code_bytes", "self.code_digest", "self.reserved_concurrency", "self.environment_vars",
                      "self.memory_size", "self.timeout", "self.ephemeral_storage", "self.package_type"):
        assert attribute in function, attribute
    assert "self.routing_config = routing_config" in inspect.getsource(LambdaAlias)
    assert "def put_log_events" in inspect.getsource(LogGroup)
    assert "def _get_action" in inspect.getsource(LambdaResponse.__mro__[1])


def test_install_and_uninstall_restore_moto_exactly():
    patched = {**bridge.PATCHED, **bridge.lazy_patches()}  # moto's CloudFormation imported: patched at once
    before = {key: key[0].__dict__.get(key[1]) for key in patched}
    from lambda_lab.runtime import Runtime
    from lambda_lab.service import LambdaService

    runtime = Runtime()
    bridge.install(LambdaService(runtime))
    assert all(key[0].__dict__.get(key[1]) is not before[key] for key in patched)
    bridge.uninstall()
    runtime.stop()
    assert {key: key[0].__dict__.get(key[1]) for key in patched} == before


def test_cloudwatch_internals_the_metrics_bridge_reads():
    from moto.cloudwatch.models import Alarm, CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    backend = inspect.getsource(CloudWatchBackend)
    for needle in ("self.metric_data: list[MetricDatumBase] = []", "metrics = self.get_filtered_metrics(",
                   "self.alarms[alarm_name].update_state(reason, reason_data, state_value)"):
        assert needle in backend, needle
    assert list(inspect.signature(Alarm.update_state).parameters) == ["self", "reason", "reason_data", "state_value"]
    assert "def get_metric_statistics(self) -> ActionResult:" in inspect.getsource(CloudWatchResponse)


def test_xray_records_the_bridge_reads():
    from moto.xray.models import SegmentCollection, TraceSegment, XRayBackend
    from moto.xray.responses import XRayResponse

    assert "self._traces: dict[str, dict[str, Any]] = defaultdict" in inspect.getsource(SegmentCollection.__init__)
    assert "self.raw = raw" in inspect.getsource(TraceSegment.__init__)
    assert "self._segment_collection = SegmentCollection()" in inspect.getsource(XRayBackend.__init__)
    assert "def xray_backend" in inspect.getsource(XRayResponse)


def test_sts_sessions_the_handlers_sign_with():
    from moto.sts.models import AssumedRole, STSBackend

    assert list(inspect.signature(STSBackend.assume_role).parameters) == [
        "self", "region_name", "role_session_name", "role_arn", "policy", "duration", "external_id"]
    assert callable(STSBackend.get_assumed_role_from_access_key)
    source = inspect.getsource(AssumedRole)
    for needle in ("self.access_key_id", "self.secret_access_key", "self.session_token", "assumed-role/"):
        assert needle in source, needle


def test_internals_the_api_rules_read():
    """_api_rules reads these: alias RevisionIds, code hashes and sizes, policy statements, layers, KMS key states."""
    from moto.awslambda import urls
    from moto.awslambda.models import LayerStorage, LayerVersion
    from moto.kms.models import Key, KmsBackend

    assert "self.revision_id = str(random.uuid4())" in inspect.getsource(LambdaAlias)
    function = inspect.getsource(LambdaFunction)
    for attribute in ("self.code_sha_256", "self.code_size", "self.policy = Policy(self)", "self.version = version",
                      "self.code_or_config_updated"):
        assert attribute in function, attribute
    assert "self._layers: dict[str, Layer] = {}" in inspect.getsource(LayerStorage)
    assert "self.code_size" in inspect.getsource(LayerVersion)
    assert "self.key_state" in inspect.getsource(Key) and "self.keys" in inspect.getsource(KmsBackend)
    assert not any("account-settings" in path for path in urls.__dict__["url_paths"]) or bridge._state.originals


def test_a_lab_that_makes_no_stack_never_imports_moto_cloudformation():
    """moto's CloudFormation imports every moto service (seconds of CPU): only a CloudFormation request loads it."""
    from conftest import run_in_fresh_process

    loaded = run_in_fresh_process("""
        import json, sys, boto3, lambda_lab
        lab = lambda_lab.Lab(quiet=True)
        boto3.client("lambda").list_functions()
        before = "moto.cloudformation" in sys.modules
        boto3.client("cloudformation").create_stack(StackName="s", TemplateBody=json.dumps({"Resources": {
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "from-a-stack"}}}}))
        made = boto3.client("sqs").get_queue_url(QueueName="from-a-stack")["QueueUrl"]
        events = boto3.client("cloudformation").describe_stack_events(StackName="s")["StackEvents"]
        print(json.dumps([before, "moto.cloudformation" in sys.modules, bool(made), events[0]["ResourceStatus"]]))
    """)
    assert loaded == [False, True, True, "CREATE_COMPLETE"]


def test_a_receive_still_leaves_out_messages_past_the_queues_retention(lab):
    """The lab reads MessageRetentionPeriod itself (moto counted the whole queue per message): same rule."""
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="retention-kept", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for body in ("new", "edge", "old"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    queue = sqs_backends[lab.account][lab.region].get_queue("retention-kept")
    now_ms = time.time() * 1000
    ages_s = {"old": 61, "edge": 60.5, "new": 59}  # AWS deletes a message once it has been kept 60 s
    for message in queue._messages:
        message.sent_timestamp = int(now_ms - ages_s[message.body] * 1000)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["new"]
