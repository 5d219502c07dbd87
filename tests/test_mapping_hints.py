"""A refused event source mapping's hint names the managed policy for that source, not always SQS's."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "Principal": {"Service": "lambda.amazonaws.com"}}]}


def _sources():
    sqs, kinesis, ddb = boto3.client("sqs"), boto3.client("kinesis"), boto3.client("dynamodb")
    url = sqs.create_queue(QueueName="hints")["QueueUrl"]
    kinesis.create_stream(StreamName="hints", ShardCount=1)
    table = ddb.create_table(TableName="hints", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST",
                             StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    return {"AWSLambdaSQSQueueExecutionRole":
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
            "AWSLambdaKinesisExecutionRole":
            kinesis.describe_stream(StreamName="hints")["StreamDescription"]["StreamARN"],
            "AWSLambdaDynamoDBExecutionRole": table["TableDescription"]["LatestStreamArn"]}


def test_the_hint_names_the_policy_of_the_refused_source(lab, lam):
    role = boto3.client("iam").create_role(RoleName="bare", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lam.create_function(FunctionName="hints", Runtime="python3.13", Role=role, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")})
    sources = _sources()
    for policy, arn in sources.items():
        with pytest.raises(ClientError) as refused:
            lam.create_event_source_mapping(FunctionName="hints", EventSourceArn=arn, StartingPosition="LATEST")
        message = refused.value.response["Error"]["Message"]
        assert policy in message, message
        assert [name for name in sources if name in message] == [policy], message
