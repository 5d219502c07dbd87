"""lab.allow knows every AWS managed policy, not a fixed list; plain boto3 attaches any of them by ARN.

The effect is checked where the lab enforces the execution role: the Parameters and Secrets extension
(GetSecretValue / GetParameter as the function's role) and a Kinesis event source mapping's poller.
"""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import invoke

EXTENSION = "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12"
READS = """
import json, os, urllib.error, urllib.request
def handler(event, context):
    request = urllib.request.Request("http://localhost:2773" + event["path"],
                                     headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return {"status": answer.status, "body": json.loads(answer.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "text": error.read().decode()}
"""


def attached(lab):
    role = lab.role_arn.rsplit("/", 1)[-1]
    return {p["PolicyName"]: p["PolicyArn"] for p in
            boto3.client("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"]}


def test_allow_a_policy_outside_the_lessons_list_and_a_refused_call_succeeds(lab, lam, make_function):
    assert lab.region == "us-east-1"  # the extension layer's ARN above is us-east-1's
    boto3.client("secretsmanager").create_secret(Name="api/token", SecretString="t0k3n")
    boto3.client("ssm").put_parameter(Name="/app/mode", Value="blue", Type="String")
    name = make_function(READS, Layers=[EXTENSION])
    secret, parameter = ({"path": "/secretsmanager/get?secretId=api/token"},
                         {"path": "/systemsmanager/parameters/get?name=%2Fapp%2Fmode"})
    assert "AccessDeniedException" in invoke(lam, name, secret)[1]["text"]  # the lab's role: logging only
    assert "AccessDeniedException" in invoke(lam, name, parameter)[1]["text"]
    lab.allow("SecretsManagerReadWrite", "AmazonSSMReadOnlyAccess")
    assert attached(lab)["SecretsManagerReadWrite"] == "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
    assert attached(lab)["AmazonSSMReadOnlyAccess"] == "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"
    assert invoke(lam, name, secret)[1]["body"]["SecretString"] == "t0k3n"
    assert invoke(lam, name, parameter)[1]["body"]["Parameter"]["Value"] == "blue"


def test_allow_a_kinesis_policy_and_the_mapping_is_accepted(lab, lam, make_function):
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    name = make_function("def handler(event, context):\n    return len(event['Records'])\n")
    with pytest.raises(ClientError) as refused:  # the execution role cannot read the stream yet
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream, StartingPosition="LATEST")
    assert "The provided execution role does not have permissions to call GetRecords on Kinesis" in str(refused.value)
    lab.allow("AmazonKinesisReadOnlyAccess")  # not among the lessons' 13 policies
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream, StartingPosition="LATEST")
    assert mapping["State"] in ("Creating", "Enabled")


def test_an_unknown_name_names_close_matches_and_attaches_nothing(lab):
    before = attached(lab)
    with pytest.raises(ValueError) as unknown:
        lab.allow("AWSXrayWriteOnlyAccess", "SecretsManagerReadwrite")
    assert "'SecretsManagerReadwrite' is not an AWS managed policy" in str(unknown.value)
    assert "Did you mean SecretsManagerReadWrite" in str(unknown.value)
    assert attached(lab) == before  # the known name before it was not attached either


def test_policies_with_a_path_and_any_name_aws_publishes(lab):
    lab.allow("AWSLambdaVPCAccessExecutionRole", "AWSXrayWriteOnlyAccess",
              "CloudWatchLambdaInsightsExecutionRolePolicy")
    now = attached(lab)
    assert now["AWSLambdaVPCAccessExecutionRole"] == \
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    assert now["AWSXrayWriteOnlyAccess"] == "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
    assert "CloudWatchLambdaInsightsExecutionRolePolicy" in now


def test_plain_boto3_attaches_and_reads_any_aws_managed_policy(lab):
    iam = boto3.client("iam")
    iam.create_role(RoleName="plain-boto3", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    arn = "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["PolicyName"] == "AmazonSSMReadOnlyAccess"
    document = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    actions = [a for s in document["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert "ssm:Get*" in actions
    iam.attach_role_policy(RoleName="plain-boto3", PolicyArn="arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess")
    names = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="plain-boto3")["AttachedPolicies"]]
    assert names == ["AWSXrayWriteOnlyAccess"]
    aws_scope = [p["PolicyName"] for page in iam.get_paginator("list_policies").paginate(Scope="AWS")
                 for p in page["Policies"]]
    assert "AmazonSSMReadOnlyAccess" in aws_scope and "AWSXrayWriteOnlyAccess" in aws_scope
    with pytest.raises(ClientError) as missing:
        iam.attach_role_policy(RoleName="plain-boto3", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAnywhere")
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
