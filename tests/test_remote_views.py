"""The lab's views on a remote backend, rebuilt from CloudWatch Logs and destination queues (a moto server here)."""

import base64
import io
import json
import math
import threading
import time
from contextlib import redirect_stdout

import boto3
import pytest
from moto.server import ThreadedMotoServer

import lambda_lab
from conftest import standin_account
from lambda_lab import plots
from lambda_lab.pricing import parse_report

HANDLER = ("def handler(event, context):\n"
           "    print('working on', event)\n"
           "    if event.get('boom'):\n"
           "        raise ValueError('boom asked for')\n"
           "    return {'ok': True}\n")


@pytest.fixture(scope="class")
def remote(tmp_path_factory):
    """One moto server (its Lambda runs handlers on the lab's runtime) and one endpoint lab, for the class."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAMBDA_LAB_HOME", str(tmp_path_factory.mktemp("records")))
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.delenv(key, raising=False)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        engine = lambda_lab.install()
        from lambda_lab._lab import LESSON_POLICIES
        from lambda_lab.service import provide_managed_policies

        provide_managed_policies("123456789012", LESSON_POLICIES)
        host, port = moto.get_host_and_port()
        lab = lambda_lab.Lab(backend="endpoint", endpoint_url=f"http://{host}:{port}", learner="ada", quiet=True,
                             role_wait_s=0)  # install() applies IAM at once
        try:
            lab.server_clock = engine.service.clock  # the stand-in account's clock (60x real time unless set)
            yield lab
        finally:
            lab.cleanup()
            lab.stop()
            lambda_lab.uninstall()
            moto.stop()
            from moto.core.base_backend import BackendDict

            BackendDict.reset()  # the server's state is process-wide: leave none for later modules


def _function(lab, name, **config):
    lam = boto3.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(HANDLER)}, **config)
    lab.wait_until_ready(name)
    return lam


def _tail_report(lam, name, event, **kw):
    """Invoke with the log tail and return the REPORT line's request id and figures, as the caller saw them."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail", **kw)
    response["Payload"].read()
    tail = base64.b64decode(response["LogResult"]).decode()
    line = [x for x in tail.splitlines() if x.startswith("REPORT ")][-1]
    return line.split()[2], parse_report(line)


def _poll(read, enough, deadline_s=30.0):
    """Read until `enough(value)` (CloudWatch Logs is eventually consistent on AWS), or fail with the last value."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = read()
        if enough(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


class TestOnAnEndpoint:
    """Against one moto server for the class; the local lab's test below starts after it has gone."""

    def test_invocations_are_rebuilt_from_report_lines(self, remote):
        lam = _function(remote, "rv-hello", MemorySize=256)
        seen = [_tail_report(lam, "rv-hello", {"n": n}) for n in range(3)]
        version = lam.publish_version(FunctionName="rv-hello")["Version"]
        seen.append(_tail_report(lam, "rv-hello", {"n": 3}, Qualifier=version))
        failed_id, _ = _tail_report(lam, "rv-hello", {"boom": 1})

        runs = _poll(lambda: [i for i in remote.invocations if i.function_name == "rv-hello"], lambda r: len(r) >= 5)
        assert [i.request_id for i in runs] == [rid for rid, _ in seen] + [failed_id]  # oldest first
        for inv, (_, report) in zip(runs, seen):
            result = inv.result
            assert (result.duration_ms, result.billed_ms, result.init_ms, result.memory_mb) == \
                   (report.duration_ms, report.billed_ms, report.init_ms, 256)
            assert result.max_memory_mb == report.max_memory_mb and result.max_memory_mb > 0
            assert result.wall_ms is None and result.cpu_ms is None  # measured on the lab's machine only
            # Lambda bills the exact duration, and on a cold start the init too, rounded up to the millisecond;
            # REPORT prints both to 0.01 ms, so the exact sum lies within 0.01 ms of the printed one
            shown = result.duration_ms + (result.init_ms or 0.0)
            assert max(1, math.ceil(shown - 0.01)) <= result.billed_ms <= max(1, math.ceil(shown + 0.01))
            assert result.log_group == "/aws/lambda/rv-hello" and "START RequestId: " + inv.request_id in result.log
        assert [i.executed_version for i in runs] == ["$LATEST"] * 3 + [version, "$LATEST"]
        assert [i.invocation_type for i in runs] == ["RequestResponse"] * 5  # this kernel's calls, from the responses
        assert [i.result.cold for i in runs] == [True, False, False, True, False]  # a new version, a new environment
        assert runs[0].started_at <= runs[0].result.invoked_at  # a cold start's clock starts before its init
        assert not any(i.failed for i in runs[:4])
        assert runs[4].failed and runs[4].result.error_type == "ValueError" and runs[4].result.status == "error"


    def test_environments_are_the_functions_log_streams(self, remote):
        lam = _function(remote, "rv-streams")
        for n in range(3):
            _tail_report(lam, "rv-streams", {"n": n})
        version = lam.publish_version(FunctionName="rv-streams")["Version"]
        _tail_report(lam, "rv-streams", {}, Qualifier=version)

        envs = _poll(lambda: remote.environments("rv-streams"), lambda e: sum(x.invocations for x in e) >= 4)
        assert sorted((e.version, e.invocations) for e in envs) == sorted([("$LATEST", 3), (version, 1)])
        for env in envs:
            assert env.function_name == "rv-streams" and f"[{env.version}]" in env.stream_name
            assert env.created <= env.last_used and env.init_ms is not None and env.init_ms > 0
        assert {e.stream_name for e in envs} == {i.result.log_stream for i in remote.invocations
                                                 if i.function_name == "rv-streams"}
        assert "rv-streams" not in {e.function_name for e in remote.environments("rv-hello")}


    def test_charts_draw_from_remote_invocations(self, remote):
        lam = _function(remote, "rv-charts")
        for n in range(4):
            _tail_report(lam, "rv-charts", {"n": n})
        runs = _poll(lambda: [i for i in remote.invocations if i.function_name == "rv-charts"], lambda r: len(r) >= 4)
        latency = plots.latency_chart(runs, "rv-charts")
        assert any("cold starts" in t.get_text() for t in latency.axes[0].get_legend().get_texts())
        versions = plots.versions_chart(runs, "rv-charts")
        assert "100%" in versions.axes[1].get_legend().get_texts()[0].get_text()
        # no wall time is logged: the chart counts each run's logged duration (and init) instead
        concurrency = plots.concurrency_chart(runs, "rv-charts")
        assert "peak 1" in concurrency.axes[0].get_legend().get_texts()[0].get_text()


    def test_async_outcomes_come_from_destination_records_and_logs(self, remote):
        lam = _function(remote, "rv-async")
        remote.allow("AmazonSQSFullAccess")
        sqs = boto3.client("sqs")
        queues = {}
        for kind in ("ok", "failed"):
            url = sqs.create_queue(QueueName=f"rv-async-{kind}")["QueueUrl"]
            queues[kind] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                            ["Attributes"]["QueueArn"])
        lam.put_function_event_invoke_config(FunctionName="rv-async", MaximumRetryAttempts=0, DestinationConfig={
            "OnSuccess": {"Destination": queues["ok"][1]}, "OnFailure": {"Destination": queues["failed"][1]}})
        sent = [lam.invoke(FunctionName="rv-async", InvocationType="Event", Payload=json.dumps(e).encode())
                for e in ({"n": 1}, {"boom": 1})]
        assert [r["StatusCode"] for r in sent] == [202, 202]

        output = io.StringIO()
        with redirect_stdout(output):
            remote.wait_for_async(timeout=90)  # an explicit bound: a slow machine fails here, not in pytest-timeout
        assert "2/2 ended" in output.getvalue()
        events = [e for e in remote.async_events if e.function_name == "rv-async"]
        assert [e.outcome for e in events] == ["Success", "RetriesExhausted"]
        assert [[a.outcome for a in e.attempts] for e in events] == [["success"], ["error"]]
        assert events[1].attempts[0].error_type == "ValueError"
        assert [[(k, arn) for k, arn, _ in e.deliveries] for e in events] == [[("OnSuccess", queues["ok"][1])],
                                                                              [("OnFailure", queues["failed"][1])]]
        assert json.loads(events[1].payload) == {"boom": 1}
        sent = {i.request_id for i in remote.invocations if i.invocation_type == "Event"}
        assert {e.request_id for e in events} <= sent
        # the lab only looked: the learner's own read of the queue still finds the record
        message = sqs.receive_message(QueueUrl=queues["failed"][0], WaitTimeSeconds=1)["Messages"][0]
        assert json.loads(message["Body"])["requestContext"]["requestId"] == events[1].request_id

        quiet = io.StringIO()
        with redirect_stdout(quiet):
            remote.wait_for_async()  # nothing sent since: returns at once, and says so
        assert "no asynchronous invocations sent since the last wait" in quiet.getvalue()


    def test_wait_for_async_is_bounded_while_aws_retries(self, remote):
        lam = _function(remote, "rv-retry")  # default: two retries, the first a minute later
        remote.server_clock.speed = 1  # as on AWS: the retry is a real minute away
        try:
            lam.invoke(FunctionName="rv-retry", InvocationType="Event", Payload=b'{"boom": 1}')
            output = io.StringIO()
            with redirect_stdout(output):
                remote.wait_for_async(timeout=3, progress=False)
            # read while the retry is still a real minute away: at 60x a busy machine saw it happen first
            event = _poll(lambda: [e for e in remote.async_events if e.function_name == "rv-retry"][0],
                          lambda e: e.attempts)
        finally:
            remote.server_clock.speed = 60
        assert output.getvalue().startswith("\nlab.wait_for_async(): 1 of 1 asynchronous events had not ended")
        assert "lab.wait_for_async() again" in output.getvalue()
        assert event.outcome is None and [a.outcome for a in event.attempts] == ["error"]  # its retry is still due

    def test_allow_finds_any_aws_managed_policy_and_names_close_ones(self, remote):
        """On an account every AWS managed policy exists; the lab finds it by its catalogue path, not a long list."""
        iam, role = boto3.client("iam"), remote.role_arn.split("/")[-1]
        remote.allow("SecretsManagerReadWrite", "AWSLambdaVPCAccessExecutionRole")  # no path and service-role/
        attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
        assert {"arn:aws:iam::aws:policy/SecretsManagerReadWrite",
                "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"} <= attached
        with pytest.raises(ValueError, match="'SecretsManagerReadwrite' is not an AWS managed policy"):
            remote.allow("SecretsManagerReadwrite")

    def test_function_urls_of_a_standin_account_answer_at_its_front_door(self, remote, monkeypatch):
        """AWS's lambda-url hostnames do not resolve off AWS: the stand-in serves them at its own front door."""
        import requests

        door = standin_account().front_door(lambda_lab._install._active)
        try:
            monkeypatch.setenv("LAMBDA_LAB_FRONT_DOOR", door.url)
            lam = _function(remote, "rv-url")
            lam.create_function_url_config(FunctionName="rv-url", AuthType="NONE")
            lam.add_permission(FunctionName="rv-url", StatementId="url", Action="lambda:InvokeFunctionUrl",
                               Principal="*", FunctionUrlAuthType="NONE")
            lam.add_permission(FunctionName="rv-url", StatementId="invoke", Action="lambda:InvokeFunction",
                               Principal="*", InvokedViaFunctionUrl=True)
            url = remote.function_url("rv-url")
            assert url == f"{door.url}/lambda-url/rv-url/"
            reply = requests.post(url, json={"n": 2}, timeout=30)
            assert reply.status_code == 200 and reply.json() == {"ok": True}  # a dict without statusCode: 200
            assert remote.rest_api_url("abc123", "prod") == f"{door.url}/restapis/abc123/prod"
        finally:
            door.stop()

    def test_wait_for_async_waits_for_the_queues_this_labs_mappings_poll(self, remote):
        """A message sent to a mapped queue ends in the function: wait_for_async returns once the queue is empty."""
        remote.allow("AWSLambdaSQSQueueExecutionRole")
        lam, sqs = _function(remote, "rv-mapped"), boto3.client("sqs")
        url = sqs.create_queue(QueueName="rv-mapped-in")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam.create_event_source_mapping(FunctionName="rv-mapped", EventSourceArn=arn, BatchSize=10)
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": json.dumps({"n": n})}
                                                      for n in range(3)])
        output = io.StringIO()
        with redirect_stdout(output):
            remote.wait_for_async()
        assert "left in queues the mappings poll" in output.getvalue()
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == "0"
        ran = _poll(lambda: [i for i in remote.invocations if i.function_name == "rv-mapped"], lambda r: len(r) >= 1)
        assert ran and all("working on" in i.result.log for i in ran)
        assert {i.invocation_type for i in ran} == {None}  # the poller's calls: the logs do not say how

    def test_wait_for_async_waits_for_the_functions_a_publish_reaches(self, remote):
        """SNS invokes asynchronously and nothing in its answer says when: wait for the subscribed function's run."""
        lam, sns = _function(remote, "rv-subscribed"), boto3.client("sns")
        topic = sns.create_topic(Name="rv-news")["TopicArn"]
        arn = lam.get_function(FunctionName="rv-subscribed")["Configuration"]["FunctionArn"]
        lam.add_permission(FunctionName="rv-subscribed", StatementId="sns", Action="lambda:InvokeFunction",
                           Principal="sns.amazonaws.com", SourceArn=topic)
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
        sent_at = time.time()
        sns.publish(TopicArn=topic, Message="hello")
        output = io.StringIO()
        with redirect_stdout(output):
            remote.wait_for_async()
        assert "SNS delivery(ies) to functions yet to run" in output.getvalue()
        ran = [i for i in remote.invocations if i.function_name == "rv-subscribed"]  # no polling: it has run
        assert len(ran) == 1 and ran[0].result.invoked_at >= sent_at - 1 and ran[0].invocation_type is None

    def test_wait_for_async_waits_for_the_provisioned_concurrency_this_kernel_asked_for(self, remote):
        lam = _function(remote, "rv-warm")
        version = lam.publish_version(FunctionName="rv-warm")["Version"]
        remote.server_clock.speed = 20  # allocation's lab minute lasts 3 s: a busy machine still waits, visibly
        try:
            asked = lam.put_provisioned_concurrency_config(FunctionName="rv-warm", Qualifier=version,
                                                           ProvisionedConcurrentExecutions=1)
            assert asked["Status"] == "IN_PROGRESS"  # allocation takes a minute of the account's clock
            output = io.StringIO()
            with redirect_stdout(output):
                remote.wait_for_async()
        finally:
            remote.server_clock.speed = 60
        assert "provisioned concurrency config(s) still IN_PROGRESS" in output.getvalue()
        assert lam.get_provisioned_concurrency_config(FunctionName="rv-warm", Qualifier=version)["Status"] == "READY"
        with redirect_stdout(io.StringIO()) as again:
            remote.wait_for_async()  # allocated: nothing left to wait for
        assert "provisioned" not in again.getvalue()

    def test_wait_for_iam_retries_until_the_permission_arrives(self, remote):
        lam = _function(remote, "rv-iam")
        sqs, iam = boto3.client("sqs"), boto3.client("iam")
        url = sqs.create_queue(QueueName="rv-iam-ok")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
        role = remote.role_arn.split("/")[-1]
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
        if policy in attached:  # an earlier test allowed it: take it away again
            iam.detach_role_policy(RoleName=role, PolicyArn=policy)
        config = {"FunctionName": "rv-iam", "DestinationConfig": {"OnSuccess": {"Destination": arn}}}
        gave_up = io.StringIO()  # off the local lab it retries by default, and gives up with AWS's refusal
        with redirect_stdout(gave_up), pytest.raises(lam.exceptions.InvalidParameterValueException):
            remote.wait_for_iam(lam.put_function_event_invoke_config, timeout=2, **config)
        # it retried (after 0.5 s, then 1 s if the calls were quick) and gave up once 2 s were up
        assert gave_up.getvalue().count("IAM has not reached Lambda yet") in (1, 2)
        assert "trying again in 0.5 s" in gave_up.getvalue()
        # as on AWS, the permission lands a moment after the call first fails
        later = threading.Timer(1.5, iam.attach_role_policy, kwargs={"RoleName": role, "PolicyArn": policy})
        output = io.StringIO()
        later.start()
        try:
            with redirect_stdout(output):
                answer = remote.wait_for_iam(lam.put_function_event_invoke_config, retry=True, **config)
        finally:
            later.join()
        assert answer["DestinationConfig"]["OnSuccess"]["Destination"] == arn
        assert "IAM has not reached Lambda yet (The provided execution role does not have permissions" in \
               output.getvalue()

    def test_what_cannot_be_rebuilt_says_what_to_do_on_aws(self, remote):
        for view in ("clock", "refusals"):
            with pytest.raises(RuntimeError) as info:
                getattr(remote, view)
            assert "On AWS: " in str(info.value) and "lab.local_only(" in str(info.value)
        output = io.StringIO()
        with redirect_stdout(output):
            shown = remote.local_only("the lab clock's fast-forward", on_aws="wait for the real retries")
        assert shown is False
        assert output.getvalue().strip() == ("Skipped on backend 'endpoint' (local-only: the lab clock's "
                                             "fast-forward). On AWS: wait for the real retries")


def test_local_only_is_true_and_silent_on_the_local_lab(lab):
    output = io.StringIO()
    with redirect_stdout(output):
        shown = lab.local_only("the lab clock", on_aws="wait")
    assert shown is True and output.getvalue() == ""
