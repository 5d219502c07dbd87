"""Exercise 02.1's check: the solution passes, a blank exercise fails, and wrong permissions are named."""

import itertools

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from lambda_lab.checks import CheckFailed, ex_02_s3_trigger

HANDLER = """
from urllib.parse import unquote_plus

def handler(event, context):
    for record in event["Records"]:
        print(f"New invoice: s3://{record['s3']['bucket']['name']}/{unquote_plus(record['s3']['object']['key'])}")
"""
_numbers = itertools.count()


@pytest.fixture
def setup(lab, lam):
    """The exercise's starting point: a bucket and a function, not connected; returns (name, bucket, arn)."""
    n = next(_numbers)
    name, bucket = f"new-invoice-{n}", f"lab-invoices-{n}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    arn = lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                              Code={"ZipFile": lambda_lab.zip_source(HANDLER)})["FunctionArn"]
    return name, bucket, arn


def permit(lam, name, **overrides):
    kwargs = dict(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                  SourceAccount="123456789012")
    lam.add_permission(**{**kwargs, **overrides})


def notify(bucket, arn, events=("s3:ObjectCreated:*",)):
    boto3.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": list(events)}]})


def test_the_solution_passes(lam, setup, capsys):
    name, bucket, arn = setup
    permit(lam, name, SourceArn=f"arn:aws:s3:::{bucket}")
    notify(bucket, arn)
    ex_02_s3_trigger(name, bucket)
    assert capsys.readouterr().out.startswith("Check passed")


def test_doing_nothing_fails_and_says_to_add_the_permission(setup):
    name, bucket, _ = setup
    with pytest.raises(CheckFailed, match="has no resource-based policy.*add_permission"):
        ex_02_s3_trigger(name, bucket)


def test_the_execution_roles_principal_is_named_as_the_wrong_one(lam, setup):
    name, bucket, arn = setup
    permit(lam, name, Principal="lambda.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    with pytest.raises(ClientError) as refused:  # S3 itself refuses: it may not invoke the function
        notify(bucket, arn)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    with pytest.raises(CheckFailed) as failed:
        ex_02_s3_trigger(name, bucket)
    assert "'s3.amazonaws.com'" in str(failed.value) and "execution role" in str(failed.value)


@pytest.mark.parametrize("source_arn,hint", [
    ("arn:aws:s3:::lab-invoices-elsewhere", "does not match the bucket"),
    ("arn:aws:s3:::BUCKET/*", "not the objects in it"),
    ("arn:aws:s3:us-east-1:123456789012:BUCKET", "no region and no account"),
])
def test_a_wrong_source_arn_is_named(lam, setup, source_arn, hint):
    name, bucket, arn = setup
    permit(lam, name, SourceArn=source_arn.replace("BUCKET", bucket))
    with pytest.raises(ClientError) as refused:
        notify(bucket, arn)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    with pytest.raises(CheckFailed, match="SourceArn") as failed:
        ex_02_s3_trigger(name, bucket)
    assert hint in str(failed.value)


def test_a_permission_without_source_arn_is_too_wide(lam, setup):
    name, bucket, arn = setup
    permit(lam, name)
    notify(bucket, arn)  # S3 accepts it: any bucket may invoke the function
    with pytest.raises(CheckFailed, match="any bucket"):
        ex_02_s3_trigger(name, bucket)


def test_permission_without_the_notification_says_what_to_configure(lam, setup):
    name, bucket, _ = setup
    permit(lam, name, SourceArn=f"arn:aws:s3:::{bucket}")
    with pytest.raises(CheckFailed, match="put_bucket_notification_configuration"):
        ex_02_s3_trigger(name, bucket)


def test_a_notification_for_deletions_only_is_not_enough(lam, setup):
    name, bucket, arn = setup
    permit(lam, name, SourceArn=f"arn:aws:s3:::{bucket}")
    notify(bucket, arn, events=["s3:ObjectRemoved:*"])
    with pytest.raises(CheckFailed, match="s3:ObjectCreated"):
        ex_02_s3_trigger(name, bucket)


def test_a_missing_function_is_a_check_failure_not_a_crash(lab):
    with pytest.raises(CheckFailed, match="no function"):
        ex_02_s3_trigger("never-created", "nowhere")
