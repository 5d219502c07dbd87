"""SAM templates and CloudFormation stacks, deployed with plain boto3: the resources are the lab's real ones."""

import json
import time

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

CAPS = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]

# one template, many event sources; {version} changes the code between deployments
APP = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: the course's SAM app
Parameters:
  Greeting:
    Type: String
    Default: hello
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        GREETING: !Ref Greeting
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  App:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      AutoPublishAlias: live
      Policies:
        - SQSPollerPolicy:
            QueueName: !GetAtt Jobs.QueueName
        - S3CrudPolicy:
            BucketName: sam-log
      InlineCode: |
        import json, os, time, boto3
        def handler(event, context):
            source = (event.get("Records") or [{{}}])[0].get("eventSource") or event.get("source") or "http"
            boto3.client("s3").put_object(Bucket="sam-log", Key=f"{{time.time_ns()}}-{{context.aws_request_id}}",
                                          Body=json.dumps({{"source": source, "event": event}}).encode())
            body = {{"version": "{version}", "greeting": os.environ["GREETING"], "file": __file__.rsplit("/", 1)[-1],
                    "path": event.get("path") or event.get("rawPath")}}
            return {{"statusCode": 200, "body": json.dumps(body)}}
      Events:
        Get:
          Type: Api
          Properties: {{Path: /hello, Method: get}}
        Http:
          Type: HttpApi
        Work:
          Type: SQS
          Properties: {{Queue: !GetAtt Jobs.Arn, BatchSize: 5}}
        Tick:
          Type: Schedule
          Properties: {{Schedule: rate(10 minutes)}}
Outputs:
  ApiId:
    Value: !Ref ServerlessRestApi
  HttpApiId:
    Value: !Ref ServerlessHttpApi
  FunctionName:
    Value: !Ref App
  QueueUrl:
    Value: !Ref Jobs
"""


@pytest.fixture(scope="module")
def cfn(lab):
    boto3.client("s3").create_bucket(Bucket="sam-log")
    return boto3.client("cloudformation")


@pytest.fixture(scope="module")
def app(cfn):
    """The app stack, created once; tests read and update it in file order."""
    cfn.create_stack(StackName="app", TemplateBody=APP.format(version="v1"), Capabilities=CAPS)
    cfn.get_waiter("stack_create_complete").wait(StackName="app")
    return outputs(cfn, "app")


def outputs(cfn, stack):
    return {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}


def events_of(cfn, stack):
    """(logical id, status, reason) of each stack event, oldest first."""
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in reversed(cfn.describe_stack_events(StackName=stack)["StackEvents"])]


def recorded(source):
    """What the handler recorded for events from `source`, oldest first (and forget them)."""
    s3 = boto3.client("s3")
    found = []
    for item in s3.list_objects_v2(Bucket="sam-log").get("Contents", []):
        record = json.loads(s3.get_object(Bucket="sam-log", Key=item["Key"])["Body"].read())
        if record["source"] == source:
            found.append(record["event"])
            s3.delete_object(Bucket="sam-log", Key=item["Key"])
    return found


def body_of(response):
    return json.loads(json.loads(response["Payload"].read())["body"])


def test_a_sam_stack_becomes_real_functions_the_lab_runs(cfn, app, lam):
    stack = cfn.describe_stacks(StackName="app")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {"Greeting": "hello"}
    done = {logical for logical, status, _ in events_of(cfn, "app") if status == "CREATE_COMPLETE"}
    assert {"App", "AppRole", "AppAliaslive", "AppWork", "AppTick", "ServerlessRestApi", "ServerlessHttpApi",
            "app"} <= done
    name = app["FunctionName"]
    assert name.startswith("app-App-")
    config = lam.get_function_configuration(FunctionName=name)
    assert (config["Handler"], config["Runtime"], config["Timeout"]) == ("index.handler", "python3.13", 10)
    # InlineCode follows CloudFormation's ZipFile rule: the handler module is index.py
    assert body_of(lam.invoke(FunctionName=name, Payload=b"{}")) == {
        "version": "v1", "greeting": "hello", "file": "index.py", "path": None}
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == "1"
    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName="app")["StackResources"]}
    assert resources["AppAliaslive"]["PhysicalResourceId"] == alias["AliasArn"]
    # the execution role is the one SAM wrote: basic logging, SQS polling, and the policy templates inline
    role = resources["AppRole"]["PhysicalResourceId"]
    iam = boto3.client("iam")
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    assert sorted(attached) == ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole"]
    assert len(iam.list_role_policies(RoleName=role)["PolicyNames"]) == 2


def test_api_and_http_api_events_answer_on_the_lab_urls(lab, app):
    rest = requests.get(lab.rest_api_url(app["ApiId"], "Prod") + "/hello", timeout=30)
    assert rest.status_code == 200 and rest.json()["path"] == "/hello"
    http = requests.get(lab.http_api_url(app["HttpApiId"]) + "/any/path", timeout=30)
    assert http.status_code == 200 and http.json()["path"] == "/any/path"
    assert requests.get(lab.rest_api_url(app["ApiId"], "Prod") + "/nowhere", timeout=30).status_code == 403
    recorded("http")


def test_the_sqs_event_polls_the_queue(lab, app):
    boto3.client("sqs").send_message(QueueUrl=app["QueueUrl"], MessageBody="job-1")
    lab.wait_for_async()
    received = recorded("aws:sqs")
    assert [r["body"] for e in received for r in e["Records"]] == ["job-1"]


def test_the_schedule_fires_on_the_lab_clock(lab, app):
    recorded("aws.events")
    lab.clock.advance(20 * 60 + 1)  # twenty lab minutes: two firings of rate(10 minutes)
    lab.wait_for_async()
    fired = recorded("aws.events")
    assert len(fired) == 2 and all(e["detail-type"] == "Scheduled Event" for e in fired)


def test_update_stack_changes_the_code_and_auto_publish_alias_moves(cfn, app, lam, lab):
    cfn.update_stack(StackName="app", TemplateBody=APP.format(version="v2"), Capabilities=CAPS,
                     Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "bonjour"}])
    cfn.get_waiter("stack_update_complete").wait(StackName="app")
    name = app["FunctionName"]
    assert body_of(lam.invoke(FunctionName=name, Payload=b"{}"))["version"] == "v2"
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    assert body_of(lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}"))["greeting"] == "bonjour"
    assert body_of(lam.invoke(FunctionName=name, Qualifier="1", Payload=b"{}"))["version"] == "v1"  # retained
    # the API's integration names the alias: it answers with the new version
    assert requests.get(lab.rest_api_url(app["ApiId"], "Prod") + "/hello", timeout=30).json()["version"] == "v2"
    # the old version is kept (SAM marks versions Retain): CloudFormation's cleanup phase skips it
    assert any(e[0].startswith("AppVersion") and e[1] == "DELETE_SKIPPED" for e in events_of(cfn, "app"))
    updated = [e for e in events_of(cfn, "app") if e[1].startswith("UPDATE")]
    assert ("App", "UPDATE_COMPLETE", None) in updated and updated[-1][:2] == ("app", "UPDATE_COMPLETE")
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn.update_stack(StackName="app", TemplateBody=APP.format(version="v2"), Capabilities=CAPS,
                         Parameters=[{"ParameterKey": "Greeting", "UsePreviousValue": True}])
    recorded("http")


def test_a_change_set_shows_and_then_makes_the_change(cfn, app, lam):
    change = cfn.create_change_set(StackName="app", ChangeSetName="v3", TemplateBody=APP.format(version="v3"),
                                   Capabilities=CAPS, ChangeSetType="UPDATE",
                                   Parameters=[{"ParameterKey": "Greeting", "UsePreviousValue": True}])
    described = cfn.describe_change_set(ChangeSetName=change["Id"])
    assert described["Status"] == "CREATE_COMPLETE"
    assert {c["ResourceChange"]["LogicalResourceId"] for c in described["Changes"]} >= {"App", "AppAliaslive"}
    cfn.execute_change_set(ChangeSetName=change["Id"])
    cfn.get_waiter("stack_update_complete").wait(StackName="app")
    assert body_of(lam.invoke(FunctionName=app["FunctionName"], Qualifier="live", Payload=b"{}"))["version"] == "v3"
    recorded("http")


def test_delete_stack_removes_what_it_made(cfn, lam):
    template = APP.format(version="gone").replace("Description: the course's SAM app", "Description: short-lived")
    stack_id = cfn.create_stack(StackName="short", TemplateBody=template, Capabilities=CAPS)["StackId"]
    name = outputs(cfn, "short")["FunctionName"]
    lam.get_function(FunctionName=name)
    cfn.delete_stack(StackName="short")
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lam.get_function(FunctionName=name)
    assert ("App", "DELETE_COMPLETE", None) in events_of(cfn, stack_id)


def test_an_unsupported_type_fails_the_stack_and_rolls_back(cfn, lam, make_function):
    template = """
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: before-the-failure
      Runtime: python3.13
      Handler: index.handler
      Role: !Sub arn:aws:iam::${AWS::AccountId}:role/lambda-lab-execution-role
      Code: {ZipFile: "def handler(e, c): return 1"}
  Graph:
    Type: AWS::AppSync::GraphQLApi
    DependsOn: Fn
    Properties: {Name: g, AuthenticationType: API_KEY}
"""
    cfn.create_stack(StackName="unsupported", TemplateBody=template)
    with pytest.raises(Exception, match="ROLLBACK_COMPLETE"):
        cfn.get_waiter("stack_create_complete").wait(StackName="unsupported")
    events = events_of(cfn, "unsupported")
    failed = [e for e in events if e[1] == "CREATE_FAILED"]
    assert failed[0][0] == "Graph" and "AWS::AppSync::GraphQLApi" in failed[0][2]
    assert ("Fn", "DELETE_COMPLETE", None) in events and events[-1][:2] == ("unsupported", "ROLLBACK_COMPLETE")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lam.get_function(FunctionName="before-the-failure")
    assert "Outputs" not in cfn.describe_stacks(StackName="unsupported")["Stacks"][0]
    # a custom resource would wait for a reply no function sends here: it fails at once, naming its type
    token = lam.get_function(FunctionName=make_function("def handler(event, context):\n    return None\n"))
    cfn.create_stack(StackName="custom", TemplateBody="Resources:\n  C: {Type: 'Custom::Seed', Properties: "
                                                      f"{{ServiceToken: {token['Configuration']['FunctionArn']}}}}}\n")
    assert events_of(cfn, "custom")[-1][:2] == ("custom", "ROLLBACK_COMPLETE")
    assert "Custom::Seed" in [e for e in events_of(cfn, "custom") if e[1] == "CREATE_FAILED"][0][2]


def test_stack_functions_meet_the_lab_rules_and_an_invalid_sam_template_is_refused(cfn):
    template = """
Transform: AWS::Serverless-2016-10-31
Resources:
  TooLong:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.13, Handler: index.handler, Timeout: 901, InlineCode: "def handler(e, c): pass"}
"""
    cfn.create_stack(StackName="too-long", TemplateBody=template, Capabilities=CAPS)
    failed = [e for e in events_of(cfn, "too-long") if e[1] == "CREATE_FAILED"]
    assert failed[0][0] == "TooLong" and "900" in failed[0][2]  # the lab's own validation answered
    assert cfn.describe_stacks(StackName="too-long")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    with pytest.raises(ClientError, match="Transform AWS::Serverless-2016-10-31 failed"):
        cfn.create_stack(StackName="broken", Capabilities=CAPS, TemplateBody=template.replace(
            "Runtime: python3.13, ", "Runtime: python3.13, Events: {E: {Type: Nope}}, "))


SAFE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Verdict: {{Type: String, Default: Succeeded}}
Resources:
  Gate:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: CodeDeployHook_gate
      Runtime: python3.13
      Handler: index.handler
      Environment: {{Variables: {{VERDICT: !Ref Verdict}}}}
      InlineCode: |
        import boto3, os
        def handler(event, context):
            boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
                deploymentId=event["DeploymentId"], status=os.environ["VERDICT"],
                lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"])
  Safe:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: safe-app
      Runtime: python3.13
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return '{version}'\\n"
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
        Hooks: {{PreTraffic: !Ref Gate}}
"""


def wait_for_status(cfn, lab, stack, settled, deadline_s=120):
    """Poll the stack (the lab clock moving on) until its status is one of `settled`."""
    import time

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if status in settled:
            return status
        lab.clock.advance(30)
        time.sleep(0.05)
    raise AssertionError(f"{stack} still {status}")


def test_deployment_preference_shifts_traffic_with_codedeploy_and_rolls_back_on_a_failed_hook(cfn, lab, lam):
    cfn.create_stack(StackName="safe", TemplateBody=SAFE.format(version="v1"), Capabilities=CAPS)
    assert cfn.describe_stacks(StackName="safe")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert lam.get_alias(FunctionName="safe-app", Name="live")["FunctionVersion"] == "1"  # first: no deployment

    cfn.update_stack(StackName="safe", TemplateBody=SAFE.format(version="v2"), Capabilities=CAPS)
    assert cfn.describe_stacks(StackName="safe")["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
    codedeploy = boto3.client("codedeploy")
    made = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName="safe")["StackResources"]}
    [deployment] = codedeploy.list_deployments(applicationName=made["ServerlessDeploymentApplication"],
                                               deploymentGroupName=made["SafeDeploymentGroup"])["deployments"]
    assert lam.get_alias(FunctionName="safe-app", Name="live")["FunctionVersion"] == "1"  # not moved yet
    assert wait_for_status(cfn, lab, "safe", ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")) == "UPDATE_COMPLETE"
    info = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]
    assert (info["status"], info["deploymentConfigName"]) == ("Succeeded", "CodeDeployDefault.LambdaCanary10Percent5Minutes")
    alias = lam.get_alias(FunctionName="safe-app", Name="live")
    assert (alias["FunctionVersion"], alias.get("RoutingConfig", {}).get("AdditionalVersionWeights")) in (("2", None),
                                                                                                          ("2", {}))
    # the gate now says Failed: CodeDeploy rolls back, the alias stays on version 2, the stack rolls back too
    cfn.update_stack(StackName="safe", TemplateBody=SAFE.format(version="v3"), Capabilities=CAPS,
                     Parameters=[{"ParameterKey": "Verdict", "ParameterValue": "Failed"}])
    assert wait_for_status(cfn, lab, "safe", ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")) == \
        "UPDATE_ROLLBACK_COMPLETE"
    assert lam.get_alias(FunctionName="safe-app", Name="live")["FunctionVersion"] == "2"
    assert json.loads(lam.invoke(FunctionName="safe-app", Qualifier="live")["Payload"].read()) == "v2"
    assert json.loads(lam.invoke(FunctionName="safe-app")["Payload"].read()) == "v2"  # the code rolled back too


SOURCES = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  CodeBucket: {Type: String}
Resources:
  Uploads: {Type: AWS::S3::Bucket}
  Topic: {Type: AWS::SNS::Topic}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Shards:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
  Helpers:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: {Bucket: !Ref CodeBucket, Key: layer.zip}, CompatibleRuntimes: [python3.13]}
  Listener:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      CodeUri: {Bucket: !Ref CodeBucket, Key: app.zip}
      Layers: [!Ref Helpers]
      Policies: [{S3CrudPolicy: {BucketName: sam-log}}]
      Events:
        Upload: {Type: S3, Properties: {Bucket: !Ref Uploads, Events: "s3:ObjectCreated:*"}}
        Note: {Type: SNS, Properties: {Topic: !Ref Topic}}
        Custom: {Type: EventBridgeRule, Properties: {Pattern: {source: [course.app]}}}
        Changes: {Type: DynamoDB, Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: TRIM_HORIZON}}
        Records: {Type: Kinesis, Properties: {Stream: !GetAtt Shards.Arn, StartingPosition: TRIM_HORIZON}}
Outputs:
  Bucket: {Value: !Ref Uploads}
  Topic: {Value: !Ref Topic}
  Table: {Value: !Ref Table}
  Stream: {Value: !Ref Shards}
"""

LISTENER = """
import json, time, boto3
from helpers import source_of  # from the layer, under /opt/python

def handler(event, context):
    boto3.client("s3").put_object(Bucket="sam-log", Key=f"{time.time_ns()}-{context.aws_request_id}",
                                  Body=json.dumps({"source": source_of(event), "event": event}).encode())
    return {"batchItemFailures": []}
"""
HELPERS = """
def source_of(event):
    record = (event.get("Records") or [{}])[0]
    return record.get("eventSource") or record.get("EventSource") or event.get("source")
"""


def test_s3_sns_eventbridge_dynamodb_and_kinesis_events_with_a_layer_and_code_from_s3(cfn, lab):
    import lambda_lab

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="sam-code")
    s3.put_object(Bucket="sam-code", Key="app.zip", Body=lambda_lab.zip_source(LISTENER))
    s3.put_object(Bucket="sam-code", Key="layer.zip", Body=lambda_lab.zip_source({"python/helpers.py": HELPERS}))
    cfn.create_stack(StackName="sources", TemplateBody=SOURCES, Capabilities=CAPS,
                     Parameters=[{"ParameterKey": "CodeBucket", "ParameterValue": "sam-code"}])
    assert cfn.describe_stacks(StackName="sources")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE", \
        [e for e in events_of(cfn, "sources") if e[1].endswith("FAILED")]
    made = outputs(cfn, "sources")
    s3.put_object(Bucket=made["Bucket"], Key="photo.jpg", Body=b"...")
    boto3.client("sns").publish(TopicArn=made["Topic"], Message="hello")
    boto3.client("events").put_events(Entries=[{"Source": "course.app", "DetailType": "t", "Detail": "{}"}])
    boto3.client("dynamodb").put_item(TableName=made["Table"], Item={"id": {"S": "1"}})
    boto3.client("kinesis").put_record(StreamName=made["Stream"], Data=b"k", PartitionKey="p")
    lab.wait_for_async()
    assert recorded("aws:s3")[0]["Records"][0]["s3"]["object"]["key"] == "photo.jpg"
    assert recorded("aws:sns")[0]["Records"][0]["Sns"]["Message"] == "hello"
    assert recorded("course.app")[0]["detail-type"] == "t"
    assert recorded("aws:dynamodb")[0]["Records"][0]["dynamodb"]["Keys"] == {"id": {"S": "1"}}
    assert len(recorded("aws:kinesis")) == 1


def test_lab_deploy_shows_the_events_and_returns_the_outputs(lab, lam, tmp_path, capsys):
    path = tmp_path / "template.yaml"
    path.write_text("""
Transform: AWS::Serverless-2016-10-31
Parameters:
  Word: {Type: String}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      Environment: {Variables: {WORD: !Ref Word}}
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}
      InlineCode: "import os\\ndef handler(event, context):\\n    return os.environ['WORD']\\n"
  Api:  # an HTTP API written out by hand: API, integration, route, stage, permission
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: echo, ProtocolType: HTTP}
  ToEcho:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !Ref EchoAliaslive,
                 PayloadFormatVersion: "2.0"}
  GetEcho:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: GET /echo, Target: !Sub "integrations/${ToEcho}"}
  Live:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: $default, AutoDeploy: true}
  MayInvoke:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref EchoAliaslive, Action: lambda:InvokeFunction, Principal: apigateway.amazonaws.com,
                 SourceArn: !Sub "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*"}
  NodeEcho:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs22.x
      Handler: index.handler
      Role: !GetAtt EchoRole.Arn
      Code: {ZipFile: "exports.handler = async () => require('path').basename(__filename);"}
Outputs:
  Name: {Value: !Ref Echo}
  Node: {Value: !Ref NodeEcho}
  Api: {Value: !Ref Api}
""")
    made = lab.deploy(path, parameters={"Word": "one"}, stack_name="echo")
    shown = capsys.readouterr().out
    assert "CREATE_COMPLETE" in shown and "AWS::Lambda::Function" in shown and "Echo" in shown
    assert json.loads(lam.invoke(FunctionName=made["Name"])["Payload"].read()) == "one"
    assert json.loads(lam.invoke(FunctionName=made["Node"])["Payload"].read()) == "index.js"  # ZipFile's rule
    assert lab.deploy(path, parameters={"Word": "two"}, stack_name="echo", quiet=True) == made
    assert capsys.readouterr().out == ""
    assert json.loads(lam.invoke(FunctionName=made["Name"])["Payload"].read()) == "two"
    # SAM hashes Environment as written (`!Ref Word`), not its value: no new version, the alias stays on 1
    assert requests.get(lab.http_api_url(made["Api"]) + "/echo", timeout=30).text == "one"
    assert lam.get_alias(FunctionName=made["Name"], Name="live")["FunctionVersion"] == "1"
    provisioned = lam.get_provisioned_concurrency_config(FunctionName=made["Name"], Qualifier="live")
    assert provisioned["RequestedProvisionedConcurrentExecutions"] == 1
    lab.deploy(path, parameters={"Word": "two"}, stack_name="echo")
    assert "no changes to deploy" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="ROLLBACK_COMPLETE: .*AWS::AppSync::GraphQLApi"):
        lab.deploy("Resources:\n  G: {Type: 'AWS::AppSync::GraphQLApi', Properties: {Name: g}}\n",
                   stack_name="bad", quiet=True)


def test_capabilities_must_be_acknowledged_as_cloudformation_asks(cfn):
    sam = "Transform: AWS::Serverless-2016-10-31\nResources:\n  F: {Type: 'AWS::Serverless::Function', Properties: " \
          "{Runtime: python3.13, Handler: index.handler, InlineCode: 'x = 1'}}\n"
    for capabilities, missing in (([], "CAPABILITY_AUTO_EXPAND"), (["CAPABILITY_AUTO_EXPAND"], "CAPABILITY_IAM")):
        with pytest.raises(ClientError) as refused:
            cfn.create_stack(StackName="caps", TemplateBody=sam, Capabilities=capabilities)
        assert refused.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
        assert refused.value.response["Error"]["Message"] == f"Requires capabilities : [{missing}]"
    named = "Resources:\n  R: {Type: 'AWS::IAM::Role', Properties: {RoleName: named, AssumeRolePolicyDocument: {}}}\n"
    with pytest.raises(ClientError, match=r"Requires capabilities : \[CAPABILITY_NAMED_IAM\]"):
        cfn.create_stack(StackName="caps", TemplateBody=named, Capabilities=["CAPABILITY_IAM"])
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName="caps")  # nothing was made


def test_the_moto_cloudformation_internals_the_bridge_relies_on():
    import inspect

    from moto.cloudformation import models, parsing

    # read from moto's files: while a lab runs, the patched methods stand in the classes
    assert list(inspect.signature(parsing.parse_resource_and_generate_name).parameters) == [
        "logical_id", "resource_json", "resources_map"]
    assert "new_resource = parse_and_create_resource(" in inspect.getsource(parsing.ResourceMap.__getitem__)
    source = inspect.getsource(models)
    # moto takes a stack out of its list before deleting it: the bridge keeps the stack on its map for events
    assert source.index("stack = self.stacks.pop(name_or_stack_id)") < source.index("            stack.delete()")
    assert "        new_stack.create_resources()\n        return new_stack" in source


GUARDED = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Release: {{Type: String, Default: Canary10Percent5Minutes}}
Resources:
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: guarded-errors
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{{Name: FunctionName, Value: guarded-app}}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
  Guarded:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: guarded-app
      Runtime: python3.13
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return '{version}'\\n"
      AutoPublishAlias: live
      DeploymentPreference:
        Type: !Ref Release
        Alarms: [!Ref Errors]
Outputs:
  AlarmArn: {{Value: !GetAtt Errors.Arn}}
"""


def test_an_alarm_in_the_template_guards_the_deployment_and_the_preference_can_change(cfn, lab, lam):
    cfn.create_stack(StackName="guarded", TemplateBody=GUARDED.format(version="v1"), Capabilities=CAPS)
    stack = cfn.describe_stacks(StackName="guarded")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    [alarm] = boto3.client("cloudwatch").describe_alarms(AlarmNames=["guarded-errors"])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Period"], alarm["Threshold"]) == ("Errors", 60, 0.0)
    assert stack["Outputs"][0]["OutputValue"] == alarm["AlarmArn"]
    codedeploy = boto3.client("codedeploy")
    made = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName="guarded")["StackResources"]}
    group = codedeploy.get_deployment_group(applicationName=made["ServerlessDeploymentApplication"],
                                            deploymentGroupName=made["GuardedDeploymentGroup"])["deploymentGroupInfo"]
    assert group["alarmConfiguration"]["alarms"] == [{"name": "guarded-errors"}]
    # a new release type is an update of the deployment group, and the release then uses it
    cfn.update_stack(StackName="guarded", TemplateBody=GUARDED.format(version="v2"), Capabilities=CAPS,
                     Parameters=[{"ParameterKey": "Release", "ParameterValue": "AllAtOnce"}])
    assert wait_for_status(cfn, lab, "guarded", ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")) == "UPDATE_COMPLETE"
    [deployment] = codedeploy.list_deployments(applicationName=made["ServerlessDeploymentApplication"],
                                               deploymentGroupName=made["GuardedDeploymentGroup"])["deployments"]
    assert codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]["deploymentConfigName"] == \
        "CodeDeployDefault.LambdaAllAtOnce"
    assert json.loads(lam.invoke(FunctionName="guarded-app", Qualifier="live")["Payload"].read()) == "v2"
    cfn.delete_stack(StackName="guarded")
    assert boto3.client("cloudwatch").describe_alarms(AlarmNames=["guarded-errors"])["MetricAlarms"] == []


def test_lab_deploy_says_no_changes_even_when_the_update_ends_while_it_reads_the_events(lab, capsys):
    """The update's answer (an error: nothing to update) arrives while lab.deploy is reading the stack's events.

    botocore's own event hooks place it there: the update waits 0.3 s, each read of the events 0.5 s.
    """
    template = "Resources:\n  Q: {Type: 'AWS::SQS::Queue'}\n"
    lab.deploy(template, stack_name="raced", quiet=True)
    events = boto3._get_default_session().events
    hooks = [("before-call.cloudformation.UpdateStack", lambda **_: time.sleep(0.3)),
             ("before-call.cloudformation.DescribeStackEvents", lambda **_: time.sleep(0.5))]
    for name, hook in hooks:
        events.register(name, hook)
    try:
        lab.deploy(template, stack_name="raced")
    finally:
        for name, hook in hooks:
            events.unregister(name, hook)
    assert capsys.readouterr().out == "Stack raced: no changes to deploy\n"
