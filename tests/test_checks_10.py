"""Exercise 10.1 (uploads as a second way into the capstone's pipeline) and 10.2 (a poison record in the table's
stream): the solution passes, a blank exercise fails, and each plausible wrong answer fails naming what is wrong."""

import contextlib
import io
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lambda_lab.checks import CheckFailed, ex_10_stream_failures, ex_10_upload_pipeline

SOLUTION = Path(__file__).resolve().parent.parent / "solutions" / "10_capstone_sol_01.ipynb"
BUCKET_ARN = "arn:aws:s3:::lab-receipt-uploads"


@pytest.fixture
def ex():
    """The exercise's setup cell, run as the learner runs it (a fresh lab each time: the check drives it all)."""
    cells = [c for c in json.loads(SOLUTION.read_text())["cells"] if c["cell_type"] == "code"]
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile("".join(cells[0]["source"]), "setup", "exec"), namespace)
    yield namespace
    namespace["lab"].stop()


def arn_of(ex, name):
    return ex["lam"].get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def allow_s3(ex, source_arn=BUCKET_ARN):
    ex["lam"].add_permission(FunctionName="import-upload", StatementId="s3-uploads", Action="lambda:InvokeFunction",
                             Principal="s3.amazonaws.com", SourceArn=source_arn, SourceAccount=ex["account"])


def notify(ex, rules=(("suffix", ".csv"),)):
    ex["s3"].put_bucket_notification_configuration(Bucket="lab-receipt-uploads", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "LambdaFunctionArn": arn_of(ex, "import-upload"), "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in rules]}}}]})


def failures_arn(ex):
    return ex["sqs"].get_queue_attributes(QueueUrl=ex["failures_url"], AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def allow_send(ex):
    ex["iam"].put_role_policy(RoleName=ex["role_name"], PolicyName="send-upload-failures", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": failures_arn(ex)}]}))


def on_failure(ex, kind="OnFailure"):
    ex["lam"].put_function_event_invoke_config(FunctionName="import-upload",
                                               DestinationConfig={kind: {"Destination": failures_arn(ex)}})


def test_the_solution_passes(ex, capsys):
    allow_s3(ex)
    notify(ex)
    allow_send(ex)
    on_failure(ex)
    ex_10_upload_pipeline()
    out = capsys.readouterr().out
    assert "Check passed" in out and "'upload-failures' after 3 attempts (RetriesExhausted)" in out


def test_a_managed_policy_for_the_destination_passes_too(ex, capsys):
    allow_s3(ex)
    notify(ex)
    ex["lab"].allow("AmazonSQSFullAccess")
    on_failure(ex)
    ex_10_upload_pipeline()
    assert "Check passed" in capsys.readouterr().out


def test_doing_nothing_fails_at_the_first_link(ex):
    with pytest.raises(CheckFailed, match="Broken link: S3 -> 'import-upload'.*sends no notification") as info:
        ex_10_upload_pipeline()
    message = str(info.value)
    assert "section 'S3: a notification on the bucket'" in message
    assert not [word for word in ("add_permission", "put_bucket_notification", "LambdaFunctionConfigurations",
                                  "s3.amazonaws.com", "ObjectCreated") if word in message], message


def test_a_notification_without_the_permission_names_the_refusal(ex):
    with pytest.raises(ClientError) as refused:  # what the learner saw in the notebook
        notify(ex)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    with pytest.raises(CheckFailed, match="S3 refused your notification configuration.*s3.amazonaws.com"):
        ex_10_upload_pipeline()


def test_a_permission_for_another_bucket_is_refused_too(ex):
    allow_s3(ex, source_arn="arn:aws:s3:::some-other-bucket")
    with pytest.raises(ClientError) as refused:
        notify(ex)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    with pytest.raises(CheckFailed, match="may not invoke the function"):
        ex_10_upload_pipeline()


def test_a_prefix_filter_that_leaves_out_the_uploads(ex):
    allow_s3(ex)
    notify(ex, rules=(("prefix", "uploads/"), ("suffix", ".csv")))
    with pytest.raises(CheckFailed, match="filter .* leaves out uploads"):
        ex_10_upload_pipeline()


def test_no_destination_says_failures_are_dropped(ex):
    allow_s3(ex)
    notify(ex)
    with pytest.raises(CheckFailed, match="no OnFailure destination, so a malformed upload is retried twice and then "
                                          "dropped"):
        ex_10_upload_pipeline()


def test_a_dead_letter_queue_is_not_a_destination(ex):
    allow_s3(ex)
    notify(ex)
    allow_send(ex)
    ex["lam"].update_function_configuration(FunctionName="import-upload",
                                            DeadLetterConfig={"TargetArn": failures_arn(ex)})
    ex["lab"].wait_until_ready("import-upload")
    with pytest.raises(CheckFailed, match="dead-letter queue .* receives only the event"):
        ex_10_upload_pipeline()


def test_on_success_instead_of_on_failure(ex):
    allow_s3(ex)
    notify(ex)
    allow_send(ex)
    on_failure(ex, kind="OnSuccess")
    with pytest.raises(CheckFailed, match="OnSuccess destination but no OnFailure"):
        ex_10_upload_pipeline()


def test_a_destination_the_role_cannot_send_to(ex):
    allow_s3(ex)
    notify(ex)
    with pytest.raises(ex["lam"].exceptions.InvalidParameterValueException,
                       match="execution role does not have permissions to call SendMessage on SQS"):
        on_failure(ex)  # refused when it is set, as AWS does
    with pytest.raises(CheckFailed, match="no OnFailure destination"):
        ex_10_upload_pipeline()


def test_a_send_permission_revoked_after_the_destination_is_named(ex):
    allow_s3(ex)
    notify(ex)
    allow_send(ex)
    on_failure(ex)
    ex["iam"].delete_role_policy(RoleName=ex["role_name"], PolicyName="send-upload-failures")
    with pytest.raises(CheckFailed, match="as the function's execution role.*sqs:SendMessage"):
        ex_10_upload_pipeline()


def test_a_disabled_stream_mapping_is_named(ex):
    allow_s3(ex)
    notify(ex)
    allow_send(ex)
    on_failure(ex)
    lam = ex["lam"]
    [mapping] = lam.list_event_source_mappings(FunctionName="notify")["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    with pytest.raises(CheckFailed, match="Broken link: table -> notify.*disabled"):
        ex_10_upload_pipeline()


def test_the_check_leaves_other_messages_where_they_were(ex):
    allow_s3(ex)
    notify(ex)
    allow_send(ex)
    on_failure(ex)
    sqs = ex["sqs"]
    sqs.send_message(QueueUrl=ex["inbox_url"], MessageBody=json.dumps({"note": "the accounts team's"}))
    ex_10_upload_pipeline()
    [left] = sqs.receive_message(QueueUrl=ex["inbox_url"], MaxNumberOfMessages=10)["Messages"]
    assert json.loads(left["Body"]) == {"note": "the accounts team's"}


# -- Exercise 10.2 ---------------------------------------------------------------------------------------
STREAM_SOLUTION = SOLUTION.with_name("10_capstone_sol_02.ipynb")
STREAM_ANSWER = ("MaximumRetryAttempts", "BisectBatchOnFunctionError", "DestinationConfig", "OnFailure",
                 "update_event_source_mapping")


@pytest.fixture
def stream():
    """Exercise 10.2's pipeline (its setup cell up to this morning's receipts), the mapping switched on."""
    setup = "".join([c for c in json.loads(STREAM_SOLUTION.read_text())["cells"] if c["cell_type"] == "code"][0]
                    ["source"]).split("# this morning")[0]
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(setup, "setup", "exec"), namespace)
    namespace["lam"].update_event_source_mapping(UUID=namespace["mapping_uuid"], Enabled=True)
    yield namespace
    namespace["lab"].stop()


def bound(ex, **settings):
    ex["lam"].update_event_source_mapping(UUID=ex["mapping_uuid"], **settings)


def notify_failures(ex):
    url = ex["sqs"].create_queue(QueueName="notify-failures")["QueueUrl"]
    return ex["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def stream_failure() -> str:
    with pytest.raises(CheckFailed) as info:
        ex_10_stream_failures("notify", failures="notify-failures")
    return str(info.value)


def test_stream_solution_passes(stream, capsys):
    arn = notify_failures(stream)
    stream["lab"].allow("AmazonSQSFullAccess")
    bound(stream, MaximumRetryAttempts=3, BisectBatchOnFunctionError=True,
          DestinationConfig={"OnFailure": {"Destination": arn}})
    ex_10_stream_failures("notify", failures="notify-failures")
    assert capsys.readouterr().out == (
        "Check passed: a bad record is retried at most 3 times, cornered by splitting its batch, and described in "
        "'notify-failures'; the good receipts around it were announced.\n")


def test_stream_blank_fails_without_the_answer(stream):
    message = stream_failure()
    assert message.startswith("A record 'notify' cannot handle is retried for as long as it stays in the stream")
    assert "section 'When a batch fails'" in message
    assert not [word for word in STREAM_ANSWER if word in message], message


def test_stream_too_many_retries(stream):
    bound(stream, MaximumRetryAttempts=10)
    assert "retries a failing batch 10 times; the task allows at most 3" in stream_failure()


def test_stream_retries_without_bisecting_lose_the_good_receipts(stream):
    bound(stream, MaximumRetryAttempts=2)
    message = stream_failure()
    assert "the good receipts that arrived with the bad record would never be announced" in message
    assert not [word for word in STREAM_ANSWER if word in message], message


def test_stream_without_a_destination(stream):
    notify_failures(stream)
    bound(stream, MaximumRetryAttempts=3, BisectBatchOnFunctionError=True)
    assert "The records the mapping gives up on go nowhere: nobody would know" in stream_failure()
