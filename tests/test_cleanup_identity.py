"""Clean-up on a real or shared account deletes exactly this learner's work: tested on a moto server (endpoint)."""

import json
import os
import stat
import warnings

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

import lambda_lab
from lambda_lab._lab import Lab, LESSON_POLICIES

ACCOUNT = "123456789012"


def _serve(tmp_path, monkeypatch, managed_policies: bool):
    monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    lambda_lab.install()
    if managed_policies:  # as on a real account or LocalStack
        from lambda_lab.service import provide_managed_policies

        provide_managed_policies(ACCOUNT, LESSON_POLICIES)
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    lambda_lab.uninstall()
    moto.stop()
    from moto.core.base_backend import BackendDict

    BackendDict.reset()  # the server's state is process-wide: leave none for later tests


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A moto server with AWS's managed policies loaded, its Lambda running handlers on the lab's runtime."""
    yield from _serve(tmp_path, monkeypatch, managed_policies=True)


@pytest.fixture
def bare_server(tmp_path, monkeypatch):
    """A plain moto server: no AWS managed policies at all."""
    yield from _serve(tmp_path, monkeypatch, managed_policies=False)


def _outside(endpoint, service):
    """A client that is not the lab's: another person, or the account as it was before the lab."""
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name="us-east-1",
                                          aws_access_key_id="x", aws_secret_access_key="y")


def _lab(endpoint, **kw):
    return Lab(backend="endpoint", endpoint_url=endpoint, quiet=True, role_wait_s=0, **kw)  # IAM applies at once


def _function(lab, name):
    boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
        Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")})


def _names(urls):
    return sorted(u.rsplit("/", 1)[-1] for u in urls)


def test_idempotent_creates_of_existing_names_are_not_the_labs(server):
    s3, sqs, sns, events = (_outside(server, s) for s in ("s3", "sqs", "sns", "events"))
    s3.create_bucket(Bucket="team-bucket")
    s3.put_object(Bucket="team-bucket", Key="results.csv", Body=b"a,b\n")
    queue = sqs.create_queue(QueueName="team-queue")["QueueUrl"]
    topic = sns.create_topic(Name="team-topic")["TopicArn"]
    events.put_rule(Name="team-rule", ScheduleExpression="rate(1 hour)")
    lab = _lab(server, learner="ada")
    try:
        # the same names "created" in the lab: AWS answers 200 and hands back what already exists
        boto3.client("s3").create_bucket(Bucket="team-bucket")
        assert boto3.client("sqs").create_queue(QueueName="team-queue")["QueueUrl"] == queue
        assert boto3.client("sns").create_topic(Name="team-topic")["TopicArn"] == topic
        boto3.client("events").put_rule(Name="team-rule", ScheduleExpression="rate(1 hour)")
        for _ in range(2):  # new, so the lab's; then a re-run cell "creates" it again: still the lab's
            boto3.client("sqs").create_queue(QueueName="labs-own-queue")
        assert [kind for kind, _ in lab.created] == ["role", "queue"]
        assert not sqs.list_queue_tags(QueueUrl=queue).get("Tags")  # nor tagged as the lab's
        removed = lab.cleanup()
    finally:
        lab.stop()
    assert sorted(kind for kind, _ in removed) == ["queue", "role"]
    assert s3.get_object(Bucket="team-bucket", Key="results.csv")["Body"].read() == b"a,b\n"
    assert _names(sqs.list_queues()["QueueUrls"]) == ["team-queue"]
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [topic]
    assert [r["Name"] for r in events.list_rules()["Rules"]] == ["team-rule"]


def test_cleanup_checks_the_labs_tag_right_before_deleting(server):
    lab = _lab(server, learner="ada")
    try:
        sqs, s3 = boto3.client("sqs"), boto3.client("s3")
        mine = sqs.create_queue(QueueName="ada-queue")["QueueUrl"]
        untagged = sqs.create_queue(QueueName="now-someone-elses")["QueueUrl"]
        s3.create_bucket(Bucket="ada-bucket")
        s3.put_bucket_tagging(Bucket="ada-bucket", Tagging={"TagSet": [{"Key": "team", "Value": "red"}]})
        assert {t["Key"] for t in s3.get_bucket_tagging(Bucket="ada-bucket")["TagSet"]} >= {"team", "lambda-lab"}
        _every_other_kind(lab, mine)
        _outside(server, "sqs").untag_queue(QueueUrl=untagged, TagKeys=["lambda-lab"])
        made = list(lab.created)
        with pytest.warns(UserWarning, match="now-someone-elses") as caught:
            removed = lab.cleanup()
        assert len(caught) == 1 and "1 recorded resource" in str(caught[0].message)
        assert sorted(removed) == sorted(r for r in made if r[1] != untagged)  # every kind the lab's tag passes
        assert _names(sqs.list_queues()["QueueUrls"]) == ["now-someone-elses"]  # left alone, and said so
        assert lab.created == [] and lab.cleanup() == []  # dropped from the record; safe twice
    finally:
        lab.stop()


def _every_other_kind(lab, queue_url):
    """One of each other kind the recorder knows, made through the lab."""
    _function(lab, "ada-fn")
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    boto3.client("lambda").create_event_source_mapping(FunctionName="ada-fn",
                                                       EventSourceArn=arn["Attributes"]["QueueArn"])
    boto3.client("lambda").publish_layer_version(LayerName="ada-layer",
                                                 Content={"ZipFile": lambda_lab.zip_source("X = 1\n")})
    boto3.client("sns").create_topic(Name="ada-topic")
    boto3.client("events").put_rule(Name="ada-rule", ScheduleExpression="rate(1 hour)")
    boto3.client("dynamodb").create_table(
        TableName="ada-table", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    boto3.client("kinesis").create_stream(StreamName="ada-stream", ShardCount=1)
    boto3.client("iam").create_policy(PolicyName="ada-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    boto3.client("apigateway").create_rest_api(name="ada-rest")
    boto3.client("apigatewayv2").create_api(Name="ada-http", ProtocolType="HTTP")
    boto3.client("kms").create_key()
    kinds = {kind for kind, _ in lab.created}
    assert kinds == {"role", "queue", "bucket", "function", "event-source-mapping", "layer-version", "topic",
                     "rule", "table", "stream", "policy", "rest-api", "http-api", "kms-key"}, kinds


def test_two_learners_as_the_same_os_user_clean_up_only_their_own(server, tmp_path, monkeypatch):
    labs = {}
    for who in ("one", "two"):  # two installs (two LAMBDA_LAB_HOMEs), the same OS user and learner name
        monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path / who))
        lab = labs[who] = _lab(server, learner="jovyan")
        _function(lab, f"fn-{who}")
        boto3.client("sqs").create_queue(QueueName=f"queue-{who}")
        lab.stop()  # the second lab replaces the first, as in another kernel
    assert labs["one"].role_arn != labs["two"].role_arn
    assert (tmp_path / "one" / "install-id").read_text() != (tmp_path / "two" / "install-id").read_text()
    assert stat.S_IMODE(os.stat(tmp_path / "one" / "install-id").st_mode) == 0o600
    monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path / "two"))
    lab = _lab(server, learner="jovyan")
    try:
        removed = lab.cleanup()
        assert sorted(kind for kind, _ in removed) == ["function", "queue", "role"]
        lam, sqs, iam = (_outside(server, s) for s in ("lambda", "sqs", "iam"))
        assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["fn-one"]
        assert _names(sqs.list_queues()["QueueUrls"]) == ["queue-one"]
        assert [r["Arn"] for r in iam.list_roles()["Roles"]] == [labs["one"].role_arn]  # one's functions still run
        tags = lam.list_tags(Resource=lam.get_function(FunctionName="fn-one")["Configuration"]["FunctionArn"])
        assert tags["Tags"]["lambda-lab-learner"] == "jovyan"  # the name is shown; the id is what counts
        assert tags["Tags"]["lambda-lab"] == labs["one"].recorder.lab_id != lab.recorder.lab_id
    finally:
        lab.stop()
    monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path / "one"))
    lab = _lab(server, learner="jovyan")
    try:
        assert sorted(kind for kind, _ in lab.cleanup()) == ["function", "queue", "role"]
        assert _outside(server, "lambda").list_functions()["Functions"] == []
    finally:
        lab.stop()


def test_a_half_written_record_is_kept_aside_and_the_lab_starts(server, tmp_path):
    lab = _lab(server, learner="ada")
    _function(lab, "before-the-crash")
    lab.stop()
    [record] = (tmp_path / "home").glob(f"{ACCOUNT}-us-east-1-*.json")
    role_name = lab.role_arn.split("/")[-1]
    assert json.loads(record.read_text()) == [["role", role_name], ["function", "before-the-crash"]]
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert [p.name for p in record.parent.iterdir() if p.name.startswith(".")] == []  # no temp files left
    half = record.read_text()[:25]
    record.write_text(half)  # a crash half-way through writing it (as the lab wrote files until now)
    with pytest.warns(UserWarning, match=str(record)):
        again = _lab(server, learner="ada")
    try:
        kept = [p for p in record.parent.iterdir() if p.name.startswith(record.name + ".corrupt-")]
        assert len(kept) == 1 and kept[0].read_text() == half and not record.exists()
        assert again.created == []  # the role existed already: nothing new
        assert again.role_arn == lab.role_arn
        _function(again, "after-the-crash")
        assert json.loads(record.read_text()) == [["function", "after-the-crash"]]
    finally:
        again.cleanup()
        again.stop()


def _logging_policy(iam, role_name):
    names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    assert len(names) == 1, names
    statements = iam.get_role_policy(RoleName=role_name, PolicyName=names[0])["PolicyDocument"]["Statement"]
    return [(s["Effect"], sorted(s["Action"]), s["Resource"]) for s in statements]


LOGGING = [("Allow", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "*")]


def test_an_endpoint_without_managed_policies_gets_the_same_statements_inline(bare_server):
    lab = _lab(bare_server, learner="ada")
    try:
        iam = _outside(bare_server, "iam")
        name = lab.role_arn.split("/")[-1]
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
        assert _logging_policy(iam, name) == LOGGING
        assert lab.cleanup() == [("role", name)]
        assert iam.list_roles()["Roles"] == []
    finally:
        lab.stop()


def test_a_half_made_role_from_before_gets_its_policy(bare_server):
    lab = _lab(bare_server, learner="ada")
    lab.stop()
    iam = _outside(bare_server, "iam")
    name = lab.role_arn.split("/")[-1]
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:  # as a start that failed half-way left it
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    again = _lab(bare_server, learner="ada")
    try:
        assert again.role_arn == lab.role_arn
        assert _logging_policy(iam, name) == LOGGING
    finally:
        again.cleanup()
        again.stop()
    assert iam.list_roles()["Roles"] == []


def test_a_failed_start_leaves_no_half_made_role(bare_server):
    """A learner allowed to create roles but not to give them policies: the start fails, and cleanly."""
    from botocore.awsrequest import AWSResponse

    def refuse(**_):
        body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed"
                b"</Message></Error></ErrorResponse>")
        return AWSResponse("http://iam", 403, {}, None), {
            "Error": {"Code": "AccessDenied", "Message": body.decode()}, "ResponseMetadata": {"HTTPStatusCode": 403}}

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.iam.PutRolePolicy", refuse, unique_id="test-refuse")
    try:
        with pytest.raises(ClientError, match="AccessDenied"):
            _lab(bare_server, learner="ada")
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call.iam.PutRolePolicy", unique_id="test-refuse")
    assert _outside(bare_server, "iam").list_roles()["Roles"] == []
    lab = _lab(bare_server, learner="ada")  # and the next start is whole
    try:
        role = ("role", lab.role_arn.split("/")[-1])
        assert lab.created == [role]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing odd left in the record
            assert lab.cleanup() == [role]
    finally:
        lab.stop()


def test_the_install_id_is_made_once_private_and_replaced_only_when_unreadable(tmp_path):
    from lambda_lab._recorder import install_id

    home = tmp_path / "fresh" / "home"
    first = install_id(home)
    assert install_id(home) == first and len(first) == 16
    assert stat.S_IMODE(os.stat(home / "install-id").st_mode) == 0o600
    assert [p.name for p in home.iterdir()] == ["install-id"]  # no temp file left
    (home / "install-id").write_text("jovyan\n")  # not an id: never trusted as one
    with pytest.warns(UserWarning, match="new identity"):
        second = install_id(home)
    assert second != first and len(list(home.glob("install-id.corrupt-*"))) == 1


def test_a_notebooks_last_cell_removes_what_that_notebook_made_and_nothing_of_another(server):
    """Two notebooks of one learner open at once: the first one's cleanup(this_notebook=True) spares the second."""
    first = _lab(server, learner="ada")
    _function(first, "from-first")
    boto3.client("sqs").create_queue(QueueName="first-queue")
    first.stop()  # another kernel's lab takes over (Lab() in the next notebook)
    second = _lab(server, learner="ada")
    try:
        assert second.role_arn == first.role_arn  # one execution role per install, shared by the notebooks
        _function(second, "from-second")
        boto3.client("sqs").create_queue(QueueName="first-queue")  # the same name again: not second's to delete
        assert second.cleanup(this_notebook=True) == [("function", "from-second")]
        lam, sqs, iam = (_outside(server, s) for s in ("lambda", "sqs", "iam"))
        assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["from-first"]
        assert _names(sqs.list_queues()["QueueUrls"]) == ["first-queue"]
        assert [r["Arn"] for r in iam.list_roles()["Roles"]] == [second.role_arn]  # the role stays for the rest
        assert sorted(kind for kind, _ in second.cleanup()) == ["function", "queue", "role"]  # the whole install's
        assert lam.list_functions()["Functions"] == []
    finally:
        second.stop()


def test_stacks_alarms_and_secrets_the_lab_made_are_cleaned_up_and_an_alarm_it_only_updated_is_not(server):
    outside_alarm = dict(MetricName="Errors", Namespace="AWS/Lambda", Statistic="Sum", Period=60,
                         EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    _outside(server, "cloudwatch").put_metric_alarm(AlarmName="theirs", **outside_alarm)
    lab = _lab(server, learner="ada")
    try:
        template = json.dumps({"Resources": {"Inbox": {"Type": "AWS::SQS::Queue",
                                                       "Properties": {"QueueName": "stack-inbox"}}}})
        cfn = boto3.client("cloudformation")
        cfn.create_stack(StackName="lab-stack", TemplateBody=template)
        cfn.get_waiter("stack_create_complete").wait(StackName="lab-stack")
        cloudwatch = boto3.client("cloudwatch")
        cloudwatch.put_metric_alarm(AlarmName="mine", **outside_alarm)
        cloudwatch.put_metric_alarm(AlarmName="theirs", **{**outside_alarm, "Threshold": 5})  # an update of theirs
        boto3.client("secretsmanager").create_secret(Name="lab/db", SecretString="s3cr3t")
        removed = {kind for kind, _ in lab.cleanup()}
        assert {"stack", "alarm", "secret"} <= removed
        stacks = [s for s in _outside(server, "cloudformation").list_stacks()["StackSummaries"]
                  if s["StackStatus"] != "DELETE_COMPLETE"]
        assert stacks == [] and _outside(server, "sqs").list_queues().get("QueueUrls", []) == []  # its queue too
        assert [a["AlarmName"] for a in _outside(server, "cloudwatch").describe_alarms()["MetricAlarms"]] == ["theirs"]
        assert _outside(server, "secretsmanager").list_secrets()["SecretList"] == []  # at once, no recovery window
    finally:
        lab.stop()


def test_the_vpc_a_lesson_made_is_removed_and_one_still_in_use_is_kept_for_later(server):
    lab = _lab(server, learner="ada")
    try:
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
        tags = {t["Key"]: t["Value"] for t in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]}
        assert tags["lambda-lab"] == lab.recorder.lab_id  # tagged through TagSpecifications
        # something in the VPC that is not the lab's (on AWS: a VPC function's network interfaces linger for
        # up to ~20 minutes) makes AWS refuse with DependencyViolation: the VPC stays in the record for later
        theirs = _outside(server, "ec2").create_subnet(VpcId=vpc, CidrBlock="10.0.9.0/24")["Subnet"]["SubnetId"]
        with pytest.warns(UserWarning, match="run lab.cleanup\\(\\) again later"):
            removed = lab.cleanup()
        assert {("security-group", group), ("subnet", subnet)} <= set(removed) and ("vpc", vpc) not in removed
        assert ("vpc", vpc) in lab.created
        _outside(server, "ec2").delete_subnet(SubnetId=theirs)
        assert lab.cleanup() == [("vpc", vpc)]
        assert [v["VpcId"] for v in _outside(server, "ec2").describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    finally:
        lab.stop()
