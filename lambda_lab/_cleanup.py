"""Removing what a lab created, in an order AWS accepts, forgiving what is already gone.

Right before each deletion the resource's own `lambda-lab` tag is read again: whatever does not carry this
lab's id (a name reused by someone else since, a tag removed by hand) is left alone and reported.
"""

from __future__ import annotations

import json
import warnings

import boto3
from botocore.exceptions import ClientError

from ._recorder import TAG_LAB, found

# dependants before what they depend on: mappings and rules before functions, functions before roles
_ORDER = ("stack", "alarm", "event-source-mapping", "rule", "rest-api", "http-api", "function", "layer-version",
          "queue", "topic", "table", "stream", "bucket", "secret", "parameter", "security-group", "subnet", "vpc",
          "kms-key", "policy", "role")
_GONE = ("ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket", "AWS.SimpleQueueService.NonExistentQueue",
         "QueueDoesNotExist", "NotFoundException", "NotFound", "ResourceNotFound", "InvalidParameter", "404",
         "ParameterNotFound", "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound")


def cleanup(recorder, region: str, only: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """Delete every recorded resource (and every one tagged with this lab's id) that still carries this lab's tag;
    with `only`, just those of them.

    Returns what went; what is recorded but not tagged as this lab's is left, dropped from the record, and
    named in a warning.
    """
    if only is not None:
        found = list(only)
    else:
        tagged = _tagged(recorder.lab_id, region) if recorder.tagging else []
        found = list(recorder.created) + [r for r in tagged if r not in recorder.created]
    removed, left, busy = [], [], []
    for kind, identifier in sorted(found, key=lambda r: _ORDER.index(r[0]) if r[0] in _ORDER else len(_ORDER)):
        try:
            tag = _lab_tag(kind, identifier, region) if recorder.tagging else _UNTAGGABLE  # local: all the lab's
            if tag is not _UNTAGGABLE and tag != recorder.lab_id:
                left.append(f"{kind} {identifier} (lambda-lab tag {tag!r})")
            else:
                _REMOVE[kind](identifier, region)
                removed.append((kind, identifier))
        except ClientError as error:
            if error.response["Error"]["Code"] == "DependencyViolation":  # still in use: kept for a later clean-up
                busy.append(f"{kind} {identifier}")
                continue
            if error.response["Error"]["Code"] not in _GONE:
                raise
        recorder.forget(kind, identifier)
    if busy:
        warnings.warn(f"lab.cleanup() could not delete yet, and kept in its record: {'; '.join(busy)}. AWS keeps a "
                      "VPC function's network interfaces for up to about 20 minutes after the function is deleted "
                      "or leaves the VPC: run lab.cleanup() again later.", stacklevel=3)
    if left:
        warnings.warn(f"lab.cleanup() left {len(left)} recorded resource(s) that do not carry this lab's tag "
                      f"lambda-lab={recorder.lab_id}, so may not be this learner's: {'; '.join(left)}. "
                      "Delete them by hand if they are yours.", stacklevel=3)
    return removed


def _client(service: str, region: str):
    return boto3.client(service, region_name=region)


def _tagged(lab_id: str, region: str) -> list[tuple[str, str]]:
    """Resources carrying this lab's tag, in case the record was lost (Lambda functions, queues, topics, tables)."""
    try:
        pages = _client("resourcegroupstaggingapi", region).get_paginator("get_resources").paginate(
            TagFilters=[{"Key": TAG_LAB, "Values": [lab_id]}])
        arns = [m["ResourceARN"] for page in pages for m in page["ResourceTagMappingList"]]
    except Exception:  # the tagging API is optional: the record is the primary source
        return []
    found = []
    for arn in arns:
        parts = arn.split(":")
        if parts[2] == "lambda" and parts[5] == "function":
            found.append(("function", parts[6]))
        elif parts[2] == "sns":
            found.append(("topic", arn))
        elif parts[2] == "dynamodb":
            found.append(("table", arn.split("/")[-1]))
    return found


_UNTAGGABLE = object()  # a layer version carries no tags; its ARN's version number is never reused


def _lab_tag(kind: str, identifier: str, region: str):
    """The value of the resource's `lambda-lab` tag now (None if it has none); raises ClientError if it is gone."""
    tags = _TAGS[kind](identifier, region) if kind in _TAGS else _UNTAGGABLE
    return tags if tags is _UNTAGGABLE else tags.get(TAG_LAB)


def _pairs(items: list, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in items}


def _bucket_tags(name: str, region: str) -> dict[str, str]:
    try:
        return _pairs(_client("s3", region).get_bucket_tagging(Bucket=name)["TagSet"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchTagSet":
            return {}
        raise


def _rule_tags(identifier: str, region: str) -> dict[str, str]:
    bus, name = json.loads(identifier)
    events = _client("events", region)
    arn = events.describe_rule(Name=name, EventBusName=bus)["Arn"]
    return _pairs(events.list_tags_for_resource(ResourceARN=arn)["Tags"])


def _mapping_tags(uuid: str, region: str) -> dict[str, str]:
    lam = _client("lambda", region)
    arn = lam.get_event_source_mapping(UUID=uuid).get("EventSourceMappingArn")
    return lam.list_tags(Resource=arn)["Tags"] if arn else {}


def _table_tags(name: str, region: str) -> dict[str, str]:
    ddb = _client("dynamodb", region)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    return _pairs(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])


def _alarm_tags(name: str, region: str) -> dict[str, str]:
    cloudwatch = _client("cloudwatch", region)
    [alarm] = found(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"], "DescribeAlarms")
    return _pairs(cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"])


def _stack(name: str, region: str) -> None:
    """Delete the stack and wait: its functions, roles and alarms go with it, before the lab's own are removed."""
    cfn = _client("cloudformation", region)
    cfn.delete_stack(StackName=name)
    cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 300})


_TAGS = {
    "function": lambda name, r: _client("lambda", r).get_function(FunctionName=name).get("Tags") or {},
    "event-source-mapping": _mapping_tags,
    "role": lambda name, r: _pairs(_client("iam", r).list_role_tags(RoleName=name)["Tags"]),
    "policy": lambda arn, r: _pairs(_client("iam", r).list_policy_tags(PolicyArn=arn)["Tags"]),
    "queue": lambda url, r: _client("sqs", r).list_queue_tags(QueueUrl=url).get("Tags") or {},
    "topic": lambda arn, r: _pairs(_client("sns", r).list_tags_for_resource(ResourceArn=arn)["Tags"]),
    "table": _table_tags,
    "bucket": _bucket_tags,
    "rule": _rule_tags,
    "stream": lambda name, r: _pairs(_client("kinesis", r).list_tags_for_stream(StreamName=name)["Tags"]),
    "rest-api": lambda api, r: _client("apigateway", r).get_rest_api(restApiId=api).get("tags") or {},
    "http-api": lambda api, r: _client("apigatewayv2", r).get_api(ApiId=api).get("Tags") or {},
    "kms-key": lambda key, r: _pairs(_client("kms", r).list_resource_tags(KeyId=key)["Tags"], "TagKey", "TagValue"),
    "stack": lambda name, r: _pairs(_client("cloudformation", r).describe_stacks(StackName=name)["Stacks"][0]
                                    .get("Tags") or []),
    "alarm": _alarm_tags,
    "vpc": lambda vpc, r: _pairs(_client("ec2", r).describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("Tags") or []),
    "subnet": lambda subnet, r: _pairs(_client("ec2", r).describe_subnets(SubnetIds=[subnet])["Subnets"][0]
                                       .get("Tags") or []),
    "security-group": lambda group, r: _pairs(_client("ec2", r).describe_security_groups(GroupIds=[group])[
        "SecurityGroups"][0].get("Tags") or []),
    "secret": lambda arn, r: _pairs(_client("secretsmanager", r).describe_secret(SecretId=arn).get("Tags") or []),
    "parameter": lambda name, r: _pairs(_client("ssm", r).list_tags_for_resource(
        ResourceType="Parameter", ResourceId=name)["TagList"]),
}


def _function(name: str, region: str) -> None:
    lam = _client("lambda", region)
    lam.delete_function(FunctionName=name)  # versions, aliases and the function URL go with it
    try:
        _client("logs", region).delete_log_group(logGroupName=f"/aws/lambda/{name}")
    except ClientError:
        pass


def _bucket(name: str, region: str) -> None:
    s3 = _client("s3", region)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            s3.delete_objects(Bucket=name, Delete={"Objects": doomed})
    s3.delete_bucket(Bucket=name)


def _rule(identifier: str, region: str) -> None:
    bus, name = json.loads(identifier)
    events = _client("events", region)
    targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
    if targets:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=name, EventBusName=bus)


def _role(name: str, region: str) -> None:
    iam = _client("iam", region)
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


def _policy(arn: str, region: str) -> None:
    iam = _client("iam", region)
    for role in iam.list_entities_for_policy(PolicyArn=arn)["PolicyRoles"]:
        iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


def _layer_version(arn: str, region: str) -> None:
    *_, name, version = arn.split(":")
    _client("lambda", region).delete_layer_version(LayerName=name, VersionNumber=int(version))


_REMOVE = {
    "function": _function,
    "event-source-mapping": lambda uuid, r: _client("lambda", r).delete_event_source_mapping(UUID=uuid),
    "layer-version": _layer_version,
    "role": _role,
    "policy": _policy,
    "queue": lambda url, r: _client("sqs", r).delete_queue(QueueUrl=url),
    "topic": lambda arn, r: _client("sns", r).delete_topic(TopicArn=arn),
    "table": lambda name, r: _client("dynamodb", r).delete_table(TableName=name),
    "bucket": _bucket,
    "rule": _rule,
    "stream": lambda name, r: _client("kinesis", r).delete_stream(StreamName=name, EnforceConsumerDeletion=True),
    "rest-api": lambda api, r: _client("apigateway", r).delete_rest_api(restApiId=api),
    "http-api": lambda api, r: _client("apigatewayv2", r).delete_api(ApiId=api),
    "kms-key": lambda key, r: _client("kms", r).schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
    "stack": _stack,
    "alarm": lambda name, r: _client("cloudwatch", r).delete_alarms(AlarmNames=[name]),
    # at once, not after AWS's 7-30 day recovery window: the course's secrets are examples
    "secret": lambda arn, r: _client("secretsmanager", r).delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True),
    "parameter": lambda name, r: _client("ssm", r).delete_parameter(Name=name),
    "security-group": lambda group, r: _client("ec2", r).delete_security_group(GroupId=group),
    "subnet": lambda subnet, r: _client("ec2", r).delete_subnet(SubnetId=subnet),
    "vpc": lambda vpc, r: _client("ec2", r).delete_vpc(VpcId=vpc),
}
