"""install()/uninstall() and the pytest fixture switch the runtime into people's own moto mocks."""

import json

import boto3
from moto import mock_aws

import lambda_lab

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _create(name="fn", source="def handler(e, c):\n    return {'doubled': e['n'] * 2}\n"):
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="test-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    lam = boto3.client("lambda", region_name="us-east-1")
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(source)})
    return lam


@mock_aws(config={"lambda": {"use_docker": False}})
def test_install_into_a_decorated_moto_test_then_uninstall():
    lam = _create()
    lambda_lab.install()
    try:
        response = lam.invoke(FunctionName="fn", Payload=b'{"n": 21}')
        assert json.loads(response["Payload"].read()) == {"doubled": 42}
        assert response["ExecutedVersion"] == "$LATEST"
    finally:
        lambda_lab.uninstall()
    # moto's own Docker-less Lambda is back: it echoes the payload without running anything
    assert lam.invoke(FunctionName="fn", Payload=b'{"n": 21}')["Payload"].read() == b'{"n": 21}'


def test_install_inside_a_context_manager_mock():
    with mock_aws():
        lam = _create()
        engine = lambda_lab.install()
        try:
            assert json.loads(lam.invoke(FunctionName="fn", Payload=b'{"n": 1}')["Payload"].read()) == {"doubled": 2}
            pids = [e.proc.pid for e in engine.runtime.environments()]
            assert pids
        finally:
            lambda_lab.uninstall()
        import psutil
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_pytest_fixture(lambda_runtime):
    with mock_aws():
        lam = _create(source="import boto3\ndef handler(e, c):\n    boto3.client('s3').create_bucket(Bucket='made-by-handler')\n")
        lam.invoke(FunctionName="fn")
        names = [b["Name"] for b in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]]
        assert names == ["made-by-handler"]


def test_triggers_moto_makes_run_the_handler(lambda_runtime):
    """An SQS event source mapping in a moto test invokes through the lab's runtime."""
    with mock_aws():
        lam = _create(source="import boto3\ndef handler(e, c):\n    body = e['Records'][0]['body']\n"
                             "    boto3.client('s3').put_object(Bucket='seen', Key=body, Body=b'1')\n")
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="seen")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("iam").put_role_policy(RoleName="test-role", PolicyName="read-queue", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": arn}]}))
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="fn")
        sqs.send_message(QueueUrl=queue, MessageBody="hello")
        lambda_runtime.wait_for_async()
        keys = [o["Key"] for o in boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="seen")["Contents"]]
        assert keys == ["hello"]


def test_lab_sets_region_and_stops_everything():
    with lambda_lab.Lab() as lab:
        lam = boto3.client("lambda")
        assert lam.meta.region_name == "us-east-1"
        lam.create_function(FunctionName="f", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")})
        lam.invoke(FunctionName="f")
        procs = [e.proc for e in lab.environments()]
        role = boto3.client("iam").get_role(RoleName="lambda-lab-execution-role")["Role"]
        assert "lambda.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])
        policies = boto3.client("iam").list_attached_role_policies(RoleName="lambda-lab-execution-role")
        assert [p["PolicyName"] for p in policies["AttachedPolicies"]] == ["AWSLambdaBasicExecutionRole"]
    assert all(p.poll() is not None for p in procs)
    assert "stopped" in repr(lab)


def test_a_new_lab_replaces_the_previous_one():
    first = lambda_lab.Lab()
    second = lambda_lab.Lab()
    try:
        assert "stopped" in repr(first) and "stopped" not in repr(second)
    finally:
        second.stop()


def test_sessions_made_while_a_lab_runs_share_the_parsed_models(monkeypatch, tmp_path):
    """moto resets boto3's default session at each start; a new session must not parse AWS's models again."""
    import doctest

    import botocore.session

    from lambda_lab.service import _botocore_models

    with mock_aws():
        lambda_lab.install()
        try:
            one, two = boto3.session.Session(), boto3.session.Session()
            loader = one._session.get_component("data_loader")
            assert loader is two._session.get_component("data_loader")
            assert one.client("lambda", region_name="us-east-1").meta.service_model.service_name == "lambda"
            # another search path (AWS_DATA_PATH) is other data, so it gets its own loader
            monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
            other = botocore.session.get_session().get_component("data_loader")
            assert other is not loader and str(tmp_path) in other.search_paths
        finally:
            lambda_lab.uninstall()
    assert doctest.testmod(_botocore_models).failed == 0


def test_the_shared_loader_loads_what_botocore_loads_and_refuses_what_it_refuses():
    """It looks in the one service's folders instead of listing all of them; the answers must be botocore's."""
    import botocore.exceptions
    import botocore.loaders
    import pytest

    from lambda_lab.service import _botocore_models

    ours, theirs = _botocore_models.shared_loader(), botocore.loaders.create_loader()
    assert type(theirs) is botocore.loaders.Loader
    for service, type_name in (("lambda", "service-2"), ("lambda", "waiters-2"), ("sqs", "paginators-1"),
                               ("s3", "service-2"), ("dynamodb", "endpoint-rule-set-1")):
        assert ours.load_service_model(service, type_name) == theirs.load_service_model(service, type_name)
    versions = theirs.list_api_versions("lambda", "service-2")
    assert ours.load_service_model("lambda", "service-2", versions[0]) == \
        theirs.load_service_model("lambda", "service-2", versions[0])
    for service, type_name in (("no-such-service", "service-2"), ("lambda", "no-such-type-1")):
        with pytest.raises(botocore.exceptions.UnknownServiceError) as raised:
            ours.load_service_model(service, type_name)
        with pytest.raises(botocore.exceptions.UnknownServiceError) as expected:
            theirs.load_service_model(service, type_name)
        assert str(raised.value) == str(expected.value)


def test_moto_reads_the_same_models_with_its_extras_through_the_labs_loader():
    import moto.core.loaders

    from lambda_lab.service._moto import _models

    for service in ("lambda", "sqs", "ec2", "s3", "iam"):
        ours = _models._create_loader().load_service_model(service, "service-2")
        assert ours == moto.core.loaders.create_loader().load_service_model(service, "service-2"), service
    assert _models._create_loader() is _models._create_loader()
