"""CloudFormation in the lab: AWS's own SAM translator, and the resources the lab makes through its own APIs.

moto's CloudFormation keeps each stack (status, events, parameters, intrinsic functions, outputs); the resource
types below are created, updated and deleted here with plain boto3 calls to the lab, in process, so every rule
of the lab applies to them (validation, packages, permissions, pollers, schedules, the HTTP front door) exactly
as it does to a learner's own calls.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from ._deliver import _client
from ._iam_propagation import retry_until_ready

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: unchanged inline code keeps its CodeSha256

__all__ = ["SAM_TRANSFORM", "Made", "Context", "PROVIDERS", "StackFailure", "is_sam", "transform", "inline_zip",
           "required_capabilities"]


class StackFailure(Exception):
    """A resource CloudFormation could not create, update or delete; the message is the event's reason."""


@dataclass
class Made:
    """A resource the lab made: its physical id, its GetAtt attributes and the properties it was made with."""
    physical_id: str
    attrs: dict
    props: dict


@dataclass
class Context:
    """Where a resource lives and what CloudFormation knows about it."""
    region: str
    account: str
    stack_name: str
    logical_id: str
    name: str  # the physical name CloudFormation generated, used when the template names none
    resource: dict  # the whole resource entry: DeletionPolicy, UpdatePolicy, ...
    deployments: list | None = field(default_factory=list)  # CodeDeploy deployments started; None: rolling back
    stack_id: str = ""


def is_sam(template: dict) -> bool:
    declared = template.get("Transform") if isinstance(template, dict) else None
    return SAM_TRANSFORM in (declared if isinstance(declared, list) else [declared])


_IAM_NAMES = {"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
              "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
              "AWS::IAM::Policy": None, "AWS::IAM::AccessKey": None, "AWS::IAM::UserToGroupAddition": None}


def required_capabilities(template: dict) -> list[str]:
    """What CloudFormation makes a caller acknowledge for this (processed) template: IAM resources, named ones."""
    needed: set[str] = set()
    for body in (template.get("Resources") or {}).values():
        kind = body.get("Type") if isinstance(body, dict) else None
        if kind in _IAM_NAMES:
            named = _IAM_NAMES[kind] and (body.get("Properties") or {}).get(_IAM_NAMES[kind])
            needed.add("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
    return ["CAPABILITY_NAMED_IAM"] if "CAPABILITY_NAMED_IAM" in needed else sorted(needed)


def transform(template: dict, parameters: dict, region: str, account: str,
              managed_policies: Callable[[], dict]) -> dict:
    """The template after AWS's own translator (aws-sam-translator), with IAM's managed policies from the lab."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # the translator warns (to stderr, in a notebook's output) about its own feature flags: not the learner's concern
    logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)
    values = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws", **(parameters or {})}
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        return translator.translate(copy.deepcopy(template), parameter_values=values,
                                    get_managed_policy_map=managed_policies)
    except InvalidDocumentException as error:
        causes = " ".join(str(getattr(cause, "message", cause)) for cause in error.causes)
        raise ValueError(f"Transform {SAM_TRANSFORM} failed with: Invalid Serverless Application Specification "
                         f"document. Number of errors found: {len(error.causes)}. {causes}") from None
    finally:
        translator.metrics.publish()  # to nowhere (a dummy publisher); unpublished metrics log a warning


def inline_zip(source: str, runtime: str) -> bytes:
    """CloudFormation's ZipFile rule: the code becomes index.js (Node.js runtimes) or index.py."""
    filename = "index.js" if (runtime or "").startswith("nodejs") else "index.py"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(filename, _EPOCH)
        info.external_attr = 0o644 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


# -- helpers -----------------------------------------------------------------------------------------
def _pick(props: dict, *keys: str) -> dict:
    return {k: props[k] for k in keys if props.get(k) is not None}


def _name(ctx: Context, limit: int = 64) -> str:
    """CloudFormation's generated name (stack-LogicalId-SUFFIX), shortened as CloudFormation shortens it."""
    stack, logical, suffix = ctx.stack_name, ctx.logical_id, ctx.name.rsplit("-", 1)[-1]
    room = limit - len(suffix) - 2
    if len(stack) + len(logical) > room:
        stack, logical = stack[:max(room // 2, room - len(logical))], logical[:room - min(len(stack), room // 2)]
    return f"{stack}-{logical}-{suffix}"[:limit]


def _split_qualified(arn: str) -> tuple[str, str | None]:
    """(function ARN or name, qualifier) of a possibly qualified function ARN."""
    parts = arn.split(":")
    if arn.startswith("arn:") and len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    return arn, None


def _tags(props: dict) -> dict:
    tags = props.get("Tags") or {}
    return {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else dict(tags)


def _ignore_missing(call: Callable, *codes: str) -> None:
    try:
        call()
    except ClientError as error:
        if error.response["Error"]["Code"] not in (codes or ("ResourceNotFoundException", "NotFoundException",
                                                             "NoSuchEntity", "NoSuchBucket")):
            raise


# -- AWS::Lambda::Function -----------------------------------------------------------------------------
_FUNCTION_KEYS = ("Role", "Runtime", "Handler", "MemorySize", "Timeout", "Environment", "Layers", "Description",
                  "TracingConfig", "DeadLetterConfig", "VpcConfig", "EphemeralStorage", "LoggingConfig",
                  "KMSKeyArn", "FileSystemConfigs", "ImageConfig")


def _code(props: dict) -> dict:
    code = props.get("Code") or {}
    if "ZipFile" in code:
        return {"ZipFile": inline_zip(code["ZipFile"], props.get("Runtime", ""))}
    return _pick(code, "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri")


def _function_made(name: str, region: str, props: dict) -> Made:
    arn = _client("lambda", region).get_function_configuration(FunctionName=name)["FunctionArn"]
    return Made(name, {"Arn": arn}, props)


def _function_create(props: dict, ctx: Context) -> Made:
    lam = _client("lambda", ctx.region)
    name = props.get("FunctionName") or _name(ctx)
    extra = _pick(props, *_FUNCTION_KEYS, "PackageType", "Architectures")
    tags = _tags(props)
    # CloudFormation's handler waits out IAM's delay for a role made a moment ago, as lab.wait_for_iam does
    retry_until_ready(lambda: lam.create_function(FunctionName=name, Code=_code(props), **extra,
                                                  **({"Tags": tags} if tags else {})))
    if props.get("ReservedConcurrentExecutions") is not None:
        lam.put_function_concurrency(FunctionName=name,
                                     ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"]))
    return _function_made(name, ctx.region, props)


def _function_update(made: Made, props: dict, ctx: Context) -> Made:
    if (props.get("FunctionName") or made.physical_id) != made.physical_id:
        return _replace(made, props, ctx, _function_create, _function_delete)
    lam, name, old = _client("lambda", ctx.region), made.physical_id, made.props
    if props.get("Code") != old.get("Code") or props.get("Architectures") != old.get("Architectures"):
        lam.update_function_code(FunctionName=name, **_code(props), **_pick(props, "Architectures"))
    config = {k: props.get(k) for k in _FUNCTION_KEYS if props.get(k) != old.get(k)}
    defaults = {"Environment": {"Variables": {}}, "Layers": [], "Description": "", "MemorySize": 128,
                "Timeout": 3, "DeadLetterConfig": {}, "TracingConfig": {"Mode": "PassThrough"}}
    config = {k: (v if v is not None else defaults.get(k)) for k, v in config.items()}
    config = {k: v for k, v in config.items() if v is not None}
    if config:
        retry_until_ready(lambda: lam.update_function_configuration(FunctionName=name, **config))
    reserved = props.get("ReservedConcurrentExecutions")
    if reserved != old.get("ReservedConcurrentExecutions"):
        if reserved is None:
            lam.delete_function_concurrency(FunctionName=name)
        else:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=int(reserved))
    return _function_made(name, ctx.region, props)


def _function_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("lambda", ctx.region).delete_function(FunctionName=made.physical_id))


# -- AWS::Lambda::Version, ::Alias, ::Permission, ::EventSourceMapping, ::LayerVersion, ::Url, ::EventInvokeConfig
def _version_create(props: dict, ctx: Context) -> Made:
    reply = _client("lambda", ctx.region).publish_version(**_pick(props, "FunctionName", "Description",
                                                                  "CodeSha256"))
    return Made(reply["FunctionArn"], {"Version": reply["Version"], "FunctionArn": reply["FunctionArn"]}, props)


def _version_delete(made: Made, ctx: Context) -> None:
    name, version = _split_qualified(made.physical_id)
    _ignore_missing(lambda: _client("lambda", ctx.region).delete_function(FunctionName=name, Qualifier=version))


def _routing(props: dict) -> dict:
    weights = ((props.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or []
    return {"RoutingConfig": {"AdditionalVersionWeights": {w["FunctionVersion"]: float(w["FunctionWeight"])
                                                           for w in weights}}} if weights else {}


def _provisioned(props: dict, old: dict, ctx: Context) -> None:
    """An alias's ProvisionedConcurrencyConfig, set, changed or removed through the lab's API."""
    wanted = (props.get("ProvisionedConcurrencyConfig") or {}).get("ProvisionedConcurrentExecutions")
    had = (old.get("ProvisionedConcurrencyConfig") or {}).get("ProvisionedConcurrentExecutions")
    lam, where = _client("lambda", ctx.region), {"FunctionName": props["FunctionName"], "Qualifier": props["Name"]}
    if wanted is not None and str(wanted) != str(had):
        lam.put_provisioned_concurrency_config(**where, ProvisionedConcurrentExecutions=int(wanted))
    elif wanted is None and had is not None:
        _ignore_missing(lambda: lam.delete_provisioned_concurrency_config(**where),
                        "ProvisionedConcurrencyConfigNotFoundException", "ResourceNotFoundException")


def _alias_create(props: dict, ctx: Context) -> Made:
    reply = _client("lambda", ctx.region).create_alias(
        FunctionName=props["FunctionName"], Name=props["Name"], FunctionVersion=str(props["FunctionVersion"]),
        **_pick(props, "Description"), **_routing(props))
    _provisioned(props, {}, ctx)
    return Made(reply["AliasArn"], {}, props)


def _alias_update(made: Made, props: dict, ctx: Context) -> Made:
    old = made.props
    if (props["Name"], props["FunctionName"]) != (old["Name"], old["FunctionName"]):
        return _replace(made, props, ctx, _alias_create, _alias_delete)
    lam = _client("lambda", ctx.region)
    policy = (ctx.resource.get("UpdatePolicy") or {}).get("CodeDeployLambdaAliasUpdate")
    moved = str(props["FunctionVersion"]) != str(old["FunctionVersion"])
    if policy and moved and ctx.deployments is not None:  # (a rollback puts the alias back directly)
        from ._deployments import begin_alias_deployment  # CodeDeploy moves the alias, on the lab clock

        function = _split_qualified(props["FunctionName"])[0].rsplit(":", 1)[-1]
        deployment = begin_alias_deployment(ctx.region, policy["ApplicationName"], policy["DeploymentGroupName"],
                                            function, props["Name"], str(old["FunctionVersion"]),
                                            str(props["FunctionVersion"]), account=ctx.account,
                                            before_allow_traffic=policy.get("BeforeAllowTrafficHook"),
                                            after_allow_traffic=policy.get("AfterAllowTrafficHook"))
        ctx.deployments.append(deployment)
        if props.get("Description") != old.get("Description"):
            lam.update_alias(FunctionName=props["FunctionName"], Name=props["Name"],
                             Description=props.get("Description") or "")
        _provisioned(props, old, ctx)
        return Made(made.physical_id, {}, props)
    lam.update_alias(FunctionName=props["FunctionName"], Name=props["Name"],
                     FunctionVersion=str(props["FunctionVersion"]), Description=props.get("Description") or "",
                     RoutingConfig=_routing(props).get("RoutingConfig", {"AdditionalVersionWeights": {}}))
    _provisioned(props, old, ctx)
    return Made(made.physical_id, {}, props)


def _alias_delete(made: Made, ctx: Context) -> None:
    name, alias = _split_qualified(made.physical_id)
    _ignore_missing(lambda: _client("lambda", ctx.region).delete_alias(FunctionName=name, Name=alias))


def _permission_create(props: dict, ctx: Context) -> Made:
    function, qualifier = _split_qualified(props["FunctionName"])
    statement = _name(ctx, 100)
    _client("lambda", ctx.region).add_permission(
        FunctionName=function, StatementId=statement, **({"Qualifier": qualifier} if qualifier else {}),
        **_pick(props, "Action", "Principal", "SourceArn", "SourceAccount", "EventSourceToken",
                "PrincipalOrgID", "FunctionUrlAuthType"))
    return Made(statement, {}, props)


def _permission_delete(made: Made, ctx: Context) -> None:
    function, qualifier = _split_qualified(made.props["FunctionName"])
    _ignore_missing(lambda: _client("lambda", ctx.region).remove_permission(
        FunctionName=function, StatementId=made.physical_id, **({"Qualifier": qualifier} if qualifier else {})))


_MAPPING_KEYS = ("BatchSize", "Enabled", "MaximumBatchingWindowInSeconds", "FilterCriteria", "FunctionResponseTypes",
                 "DestinationConfig", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts",
                 "BisectBatchOnFunctionError", "ParallelizationFactor", "TumblingWindowInSeconds", "ScalingConfig")


def _mapping_create(props: dict, ctx: Context) -> Made:
    reply = retry_until_ready(lambda: _client("lambda", ctx.region).create_event_source_mapping(
        FunctionName=props["FunctionName"], EventSourceArn=props["EventSourceArn"],
        **_pick(props, *_MAPPING_KEYS, "StartingPosition", "StartingPositionTimestamp")))
    return Made(reply["UUID"], {"EventSourceMappingArn": reply.get("EventSourceMappingArn", "")}, props)


def _mapping_update(made: Made, props: dict, ctx: Context) -> Made:
    if props.get("EventSourceArn") != made.props.get("EventSourceArn") or \
            props.get("StartingPosition") != made.props.get("StartingPosition"):
        return _replace(made, props, ctx, _mapping_create, _mapping_delete)
    _client("lambda", ctx.region).update_event_source_mapping(
        UUID=made.physical_id, FunctionName=props["FunctionName"], **_pick(props, *_MAPPING_KEYS))
    return Made(made.physical_id, made.attrs, props)


def _mapping_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("lambda", ctx.region).delete_event_source_mapping(UUID=made.physical_id))


def _layer_create(props: dict, ctx: Context) -> Made:
    reply = _client("lambda", ctx.region).publish_layer_version(
        LayerName=props.get("LayerName") or _name(ctx, 140), Content=_pick(props.get("Content") or {}, "S3Bucket",
                                                                          "S3Key", "S3ObjectVersion"),
        **_pick(props, "Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"))
    return Made(reply["LayerVersionArn"], {"LayerVersionArn": reply["LayerVersionArn"]}, props)


def _layer_delete(made: Made, ctx: Context) -> None:
    layer, version = made.physical_id.rsplit(":", 1)
    _ignore_missing(lambda: _client("lambda", ctx.region).delete_layer_version(LayerName=layer,
                                                                             VersionNumber=int(version)))


def _url_args(props: dict) -> dict:
    function, qualifier = _split_qualified(props["TargetFunctionArn"])
    return {"FunctionName": function, **({"Qualifier": qualifier} if qualifier else {})}


def _url_create(props: dict, ctx: Context) -> Made:
    reply = _client("lambda", ctx.region).create_function_url_config(
        **_url_args(props), AuthType=props["AuthType"], **_pick(props, "Cors", "InvokeMode"))
    return Made(reply["FunctionArn"], {"FunctionUrl": reply["FunctionUrl"], "FunctionArn": reply["FunctionArn"]},
                props)


def _url_update(made: Made, props: dict, ctx: Context) -> Made:
    if props["TargetFunctionArn"] != made.props["TargetFunctionArn"]:
        return _replace(made, props, ctx, _url_create, _url_delete)
    _client("lambda", ctx.region).update_function_url_config(
        **_url_args(props), AuthType=props["AuthType"], Cors=props.get("Cors") or {},
        **_pick(props, "InvokeMode"))
    return Made(made.physical_id, made.attrs, props)


def _url_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("lambda", ctx.region).delete_function_url_config(**_url_args(made.props)))


def _invoke_config_put(props: dict, ctx: Context) -> Made:
    args = {"FunctionName": props["FunctionName"], "Qualifier": props.get("Qualifier") or "$LATEST",
            **_pick(props, "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")}
    retry_until_ready(lambda: _client("lambda", ctx.region).put_function_event_invoke_config(**args))
    return Made(f"{props['FunctionName']}:{args['Qualifier']}", {}, props)


def _invoke_config_delete(made: Made, ctx: Context) -> None:
    props = made.props
    _ignore_missing(lambda: _client("lambda", ctx.region).delete_function_event_invoke_config(
        FunctionName=props["FunctionName"], Qualifier=props.get("Qualifier") or "$LATEST"))


# -- IAM roles (moto's model ignores ManagedPolicyArns, which the execution role's checks read) ---------------
def _role_create(props: dict, ctx: Context) -> Made:
    iam = _client("iam", ctx.region)
    name = props.get("RoleName") or _name(ctx, 64)
    document = props["AssumeRolePolicyDocument"]
    tags = [{"Key": k, "Value": v} for k, v in _tags(props).items()]
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=document if isinstance(document, str) else
                           json.dumps(document), Path=props.get("Path") or "/",
                           **_pick(props, "Description", "MaxSessionDuration", "PermissionsBoundary"),
                           **({"Tags": tags} if tags else {}))["Role"]
    _role_policies(name, {}, props, ctx)
    return Made(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}, props)


def _role_policies(name: str, old: dict, props: dict, ctx: Context) -> None:
    iam = _client("iam", ctx.region)
    arns, old_arns = props.get("ManagedPolicyArns") or [], old.get("ManagedPolicyArns") or []
    for arn in old_arns:
        if arn not in arns:
            _ignore_missing(lambda arn=arn: iam.detach_role_policy(RoleName=name, PolicyArn=arn))
    for arn in arns:
        if arn not in old_arns:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    inline = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []}
    for policy in old.get("Policies") or []:
        if policy["PolicyName"] not in inline:
            _ignore_missing(lambda p=policy: iam.delete_role_policy(RoleName=name, PolicyName=p["PolicyName"]))
    for policy_name, document in inline.items():
        if isinstance(document, dict):  # IAM reads a missing Version as 2008-10-17; moto refuses it (SAM omits it)
            document = json.dumps({"Version": "2012-10-17", **document})
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)


def _role_update(made: Made, props: dict, ctx: Context) -> Made:
    if (props.get("RoleName") or made.physical_id) != made.physical_id or props.get("Path") != made.props.get("Path"):
        return _replace(made, props, ctx, _role_create, _role_delete)
    if props["AssumeRolePolicyDocument"] != made.props["AssumeRolePolicyDocument"]:
        document = props["AssumeRolePolicyDocument"]
        _client("iam", ctx.region).update_assume_role_policy(
            RoleName=made.physical_id, PolicyDocument=document if isinstance(document, str) else json.dumps(document))
    _role_policies(made.physical_id, made.props, props, ctx)
    return Made(made.physical_id, made.attrs, props)


def _role_delete(made: Made, ctx: Context) -> None:
    _role_policies(made.physical_id, made.props, {}, ctx)
    _ignore_missing(lambda: _client("iam", ctx.region).delete_role(RoleName=made.physical_id))


# -- API Gateway: REST APIs from their OpenAPI body, deployments, stages; HTTP APIs and their stages -----------
def _rest_resources(api_id: str, body: dict, region: str) -> None:
    """A REST API's OpenAPI body (Swagger 2.0 or OpenAPI 3, as SAM writes it) as API Gateway imports it:
    resources, methods and Lambda proxy integrations (moto's import takes OpenAPI 3 only)."""
    apigw = _client("apigateway", region)
    existing = apigw.get_resources(restApiId=api_id, limit=500)["items"]
    root = next(r["id"] for r in existing if r["path"] == "/")
    for resource in sorted(existing, key=lambda r: -r["path"].count("/")):
        if resource["path"] != "/" and resource["path"].count("/") == 1:
            apigw.delete_resource(restApiId=api_id, resourceId=resource["id"])  # its children go with it
    for method in (next(r for r in existing if r["path"] == "/").get("resourceMethods") or {}):
        apigw.delete_method(restApiId=api_id, resourceId=root, httpMethod=method)
    ids = {"/": root}
    for path, methods in sorted((body.get("paths") or {}).items()):
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            here = parent.rstrip("/") + "/" + part
            if here not in ids:
                ids[here] = apigw.create_resource(restApiId=api_id, parentId=ids[parent], pathPart=part)["id"]
            parent = here
        for method, spec in (methods or {}).items():
            if not isinstance(spec, dict) or method.startswith("x-") and method != "x-amazon-apigateway-any-method":
                continue
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            apigw.put_method(restApiId=api_id, resourceId=ids[parent], httpMethod=verb,
                             authorizationType="NONE" if not spec.get("security") else "CUSTOM",
                             apiKeyRequired=False)
            target = spec.get("x-amazon-apigateway-integration")
            if target:
                apigw.put_integration(restApiId=api_id, resourceId=ids[parent], httpMethod=verb,
                                      type=str(target.get("type", "aws_proxy")).upper(),
                                      integrationHttpMethod=target.get("httpMethod", "POST"), uri=target["uri"])


def _rest_api_create(props: dict, ctx: Context) -> Made:
    apigw = _client("apigateway", ctx.region)
    body = props.get("Body") or {}
    api = apigw.create_rest_api(name=props.get("Name") or (body.get("info") or {}).get("title") or ctx.logical_id,
                                **_pick(props, "Description"))
    if body:
        _rest_resources(api["id"], body, ctx.region)
    root = next(r["id"] for r in apigw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/")
    return Made(api["id"], {"RootResourceId": root, "RestApiId": api["id"]}, props)


def _rest_api_update(made: Made, props: dict, ctx: Context) -> Made:
    if props.get("Body") and props["Body"] != made.props.get("Body"):
        _rest_resources(made.physical_id, props["Body"], ctx.region)
    return Made(made.physical_id, made.attrs, props)


def _rest_api_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("apigateway", ctx.region).delete_rest_api(restApiId=made.physical_id))


def _deployment_create(props: dict, ctx: Context) -> Made:
    reply = _client("apigateway", ctx.region).create_deployment(
        restApiId=props["RestApiId"], **{k[:1].lower() + k[1:]: v for k, v in
                                         _pick(props, "StageName", "Description", "StageDescription").items()})
    return Made(reply["id"], {"DeploymentId": reply["id"]}, props)


def _deployment_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("apigateway", ctx.region).delete_deployment(
        restApiId=made.props["RestApiId"], deploymentId=made.physical_id), "NotFoundException", "BadRequestException")


def _stage_create(props: dict, ctx: Context) -> Made:
    apigw = _client("apigateway", ctx.region)
    existing = {s["stageName"] for s in apigw.get_stages(restApiId=props["RestApiId"])["item"]}
    if props["StageName"] in existing:  # a Deployment with this StageName made it already
        apigw.update_stage(restApiId=props["RestApiId"], stageName=props["StageName"], patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": props["DeploymentId"]}])
    else:
        apigw.create_stage(restApiId=props["RestApiId"], stageName=props["StageName"],
                           deploymentId=props["DeploymentId"], **_pick(props, "Description", "TracingEnabled"),
                           **({"variables": props["Variables"]} if props.get("Variables") else {}))
    return Made(props["StageName"], {}, props)


def _stage_update(made: Made, props: dict, ctx: Context) -> Made:
    if (props["StageName"], props["RestApiId"]) != (made.props["StageName"], made.props["RestApiId"]):
        return _replace(made, props, ctx, _stage_create, _stage_delete)
    ops = [{"op": "replace", "path": "/deploymentId", "value": props["DeploymentId"]}]
    ops += [{"op": "replace", "path": f"/variables/{k}", "value": v} for k, v in (props.get("Variables") or {}).items()]
    _client("apigateway", ctx.region).update_stage(restApiId=props["RestApiId"], stageName=props["StageName"],
                                                   patchOperations=ops)
    return Made(made.physical_id, made.attrs, props)


def _stage_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("apigateway", ctx.region).delete_stage(
        restApiId=made.props["RestApiId"], stageName=made.physical_id))


def _http_routes(api_id: str, body: dict, region: str) -> None:
    """An HTTP API's OpenAPI body as API Gateway imports it: an integration and a route per path and method."""
    v2 = _client("apigatewayv2", region)
    for route in v2.get_routes(ApiId=api_id)["Items"]:
        v2.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    for integration in v2.get_integrations(ApiId=api_id)["Items"]:
        v2.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    for path, methods in (body.get("paths") or {}).items():
        for method, spec in (methods or {}).items():
            target = (spec or {}).get("x-amazon-apigateway-integration") if isinstance(spec, dict) else None
            if not target:
                continue
            integration = v2.create_integration(
                ApiId=api_id, IntegrationType=str(target.get("type", "aws_proxy")).upper(),
                IntegrationUri=target["uri"], IntegrationMethod=target.get("httpMethod", "POST"),
                PayloadFormatVersion=str(target.get("payloadFormatVersion", "2.0")))
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            key = "$default" if spec.get("isDefaultRoute") or path == "$default" else f"{verb} {path}"
            v2.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}")
    if body.get("x-amazon-apigateway-cors"):
        v2.update_api(ApiId=api_id, CorsConfiguration={k[:1].upper() + k[1:]: v for k, v in
                                                        body["x-amazon-apigateway-cors"].items()})


def _http_api_create(props: dict, ctx: Context) -> Made:
    v2 = _client("apigatewayv2", ctx.region)
    if props.get("Body"):  # moto's ImportApi is missing: the lab reads the body as API Gateway does
        body = props["Body"]
        api = v2.create_api(Name=props.get("Name") or (body.get("info") or {}).get("title") or ctx.logical_id,
                            ProtocolType="HTTP")
        _http_routes(api["ApiId"], body, ctx.region)
    else:
        api = v2.create_api(Name=props.get("Name") or ctx.logical_id, ProtocolType=props.get("ProtocolType", "HTTP"),
                            **_pick(props, "Description", "Target", "RouteSelectionExpression",
                                    "CorsConfiguration"))
    return Made(api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api.get("ApiEndpoint", "")}, props)


def _http_api_update(made: Made, props: dict, ctx: Context) -> Made:
    if props.get("Body") and props["Body"] != made.props.get("Body"):
        _http_routes(made.physical_id, props["Body"], ctx.region)
    return Made(made.physical_id, made.attrs, props)


def _http_api_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("apigatewayv2", ctx.region).delete_api(ApiId=made.physical_id))


def _http_stage_create(props: dict, ctx: Context) -> Made:
    _client("apigatewayv2", ctx.region).create_stage(
        ApiId=props["ApiId"], StageName=props["StageName"],
        **_pick(props, "AutoDeploy", "DeploymentId", "Description", "StageVariables"))
    return Made(props["StageName"], {}, props)


def _http_stage_update(made: Made, props: dict, ctx: Context) -> Made:
    if (props["StageName"], props["ApiId"]) != (made.props["StageName"], made.props["ApiId"]):
        _http_stage_delete(made, ctx)  # a stage's name is its identity: the old one goes before the new one comes
        return _http_stage_create(props, ctx)
    _client("apigatewayv2", ctx.region).update_stage(
        ApiId=props["ApiId"], StageName=props["StageName"],
        **_pick(props, "AutoDeploy", "DeploymentId", "Description", "StageVariables"))
    return Made(made.physical_id, made.attrs, props)


def _http_stage_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("apigatewayv2", ctx.region).delete_stage(ApiId=made.props["ApiId"],
                                                                             StageName=made.physical_id))


def _integration_create(props: dict, ctx: Context) -> Made:
    reply = _client("apigatewayv2", ctx.region).create_integration(
        ApiId=props["ApiId"], IntegrationType=props["IntegrationType"],
        **_pick(props, "IntegrationUri", "IntegrationMethod", "PayloadFormatVersion", "Description",
                "TimeoutInMillis", "RequestParameters", "ConnectionType", "CredentialsArn"))
    return Made(reply["IntegrationId"], {"IntegrationId": reply["IntegrationId"]}, props)


def _integration_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("apigatewayv2", ctx.region).delete_integration(
        ApiId=made.props["ApiId"], IntegrationId=made.physical_id))


def _route_create(props: dict, ctx: Context) -> Made:
    reply = _client("apigatewayv2", ctx.region).create_route(
        ApiId=props["ApiId"], RouteKey=props["RouteKey"],
        **_pick(props, "Target", "AuthorizationType", "AuthorizerId", "AuthorizationScopes", "OperationName"))
    return Made(reply["RouteId"], {"RouteId": reply["RouteId"]}, props)


def _route_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("apigatewayv2", ctx.region).delete_route(ApiId=made.props["ApiId"],
                                                                             RouteId=made.physical_id))


# -- S3 buckets (moto's model drops NotificationConfiguration, which S3 events need) ---------------------------
def _bucket_notifications(props: dict) -> dict:
    config = props.get("NotificationConfiguration") or {}

    def rules(item: dict) -> dict:
        found = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
        return {"Filter": {"Key": {"FilterRules": found}}} if found else {}

    out = {}
    for cfn, api, target in (("LambdaConfigurations", "LambdaFunctionConfigurations", "Function"),
                             ("QueueConfigurations", "QueueConfigurations", "Queue"),
                             ("TopicConfigurations", "TopicConfigurations", "Topic")):
        arn_key = {"Function": "LambdaFunctionArn", "Queue": "QueueArn", "Topic": "TopicArn"}[target]
        items = [{"Events": [i["Event"]], arn_key: i[target], **rules(i)} for i in config.get(cfn) or []]
        if items:
            out[api] = items
    if config.get("EventBridgeConfiguration") is not None:
        out["EventBridgeConfiguration"] = {}
    return out


def _bucket_create(props: dict, ctx: Context) -> Made:
    s3 = _client("s3", ctx.region)
    name = props.get("BucketName") or _name(ctx, 63).lower()
    s3.create_bucket(Bucket=name, **({} if ctx.region == "us-east-1" else
                                     {"CreateBucketConfiguration": {"LocationConstraint": ctx.region}}))
    notifications = _bucket_notifications(props)
    if notifications:
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notifications)
    return Made(name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                       "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com"}, props)


def _bucket_update(made: Made, props: dict, ctx: Context) -> Made:
    if (props.get("BucketName") or made.physical_id) != made.physical_id:
        return _replace(made, props, ctx, _bucket_create, _bucket_delete)
    _client("s3", ctx.region).put_bucket_notification_configuration(
        Bucket=made.physical_id, NotificationConfiguration=_bucket_notifications(props))
    return Made(made.physical_id, made.attrs, props)


def _bucket_delete(made: Made, ctx: Context) -> None:
    # like CloudFormation, a bucket with objects in it fails to delete (BucketNotEmpty)
    _ignore_missing(lambda: _client("s3", ctx.region).delete_bucket(Bucket=made.physical_id))


# -- SNS subscriptions and queue and topic policies (moto has no models for them) ---------------------------
_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
                            "DeliveryPolicy")


def _subscription_create(props: dict, ctx: Context) -> Made:
    attributes = {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v).lower()
                  for k, v in _pick(props, *_SUBSCRIPTION_ATTRIBUTES).items()}
    reply = _client("sns", props.get("Region") or ctx.region).subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props.get("Endpoint", ""),
        Attributes=attributes, ReturnSubscriptionArn=True)
    return Made(reply["SubscriptionArn"], {"Arn": reply["SubscriptionArn"]}, props)


def _subscription_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("sns", made.props.get("Region") or ctx.region).unsubscribe(
        SubscriptionArn=made.physical_id), "NotFound", "NotFoundException")


def _queue_policy_put(props: dict, ctx: Context) -> Made:
    document = props["PolicyDocument"]
    for url in props.get("Queues") or []:
        _client("sqs", ctx.region).set_queue_attributes(QueueUrl=url, Attributes={
            "Policy": document if isinstance(document, str) else json.dumps(document)})
    return Made(_name(ctx), {}, props)


def _queue_policy_delete(made: Made, ctx: Context) -> None:
    for url in made.props.get("Queues") or []:
        _ignore_missing(lambda url=url: _client("sqs", ctx.region).set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": ""}), "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def _topic_policy_put(props: dict, ctx: Context) -> Made:
    document = props["PolicyDocument"]
    for arn in props.get("Topics") or []:
        _client("sns", ctx.region).set_topic_attributes(
            TopicArn=arn, AttributeName="Policy",
            AttributeValue=document if isinstance(document, str) else json.dumps(document))
    return Made(_name(ctx), {}, props)


# -- CodeDeploy (applications and deployment groups; deployments themselves run in _deployments) -------------
def _application_create(props: dict, ctx: Context) -> Made:
    name = props.get("ApplicationName") or _name(ctx, 100)
    _client("codedeploy", ctx.region).create_application(applicationName=name,
                                                         computePlatform=props.get("ComputePlatform", "Lambda"))
    return Made(name, {}, props)


def _application_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("codedeploy", ctx.region).delete_application(applicationName=made.physical_id),
                    "ApplicationDoesNotExistException")


_GROUP_KEYS = {"DeploymentConfigName": "deploymentConfigName", "ServiceRoleArn": "serviceRoleArn",
               "AutoRollbackConfiguration": "autoRollbackConfiguration", "AlarmConfiguration": "alarmConfiguration",
               "DeploymentStyle": "deploymentStyle"}


def _lower_keys(value):
    """CloudFormation spells CodeDeploy's members with a capital letter; the API does not."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _group_args(props: dict) -> dict:
    args = {api: _lower_keys(props[cfn]) for cfn, api in _GROUP_KEYS.items() if props.get(cfn) is not None}
    if isinstance(props.get("DeploymentConfigName"), str):
        args["deploymentConfigName"] = props["DeploymentConfigName"]
    return args


def _group_create(props: dict, ctx: Context) -> Made:
    name = props.get("DeploymentGroupName") or _name(ctx, 100)
    _client("codedeploy", ctx.region).create_deployment_group(
        applicationName=props["ApplicationName"], deploymentGroupName=name, **_group_args(props))
    return Made(name, {}, props)


def _group_update(made: Made, props: dict, ctx: Context) -> Made:
    if props["ApplicationName"] != made.props["ApplicationName"]:
        return _replace(made, props, ctx, _group_create, _group_delete)
    _client("codedeploy", ctx.region).update_deployment_group(
        applicationName=props["ApplicationName"], currentDeploymentGroupName=made.physical_id, **_group_args(props))
    return Made(made.physical_id, made.attrs, props)


def _group_delete(made: Made, ctx: Context) -> None:
    _ignore_missing(lambda: _client("codedeploy", ctx.region).delete_deployment_group(
        applicationName=made.props["ApplicationName"], deploymentGroupName=made.physical_id),
        "ApplicationDoesNotExistException", "DeploymentGroupDoesNotExistException")


# -- CloudWatch alarms (what a DeploymentPreference's Alarms usually name) -------------------------------------
_ALARM_KEYS = ("AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
               "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
               "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
               "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")
_ALARM_NUMBERS = ("Period", "EvaluationPeriods", "DatapointsToAlarm")


def _alarm_put(props: dict, ctx: Context, name: str | None = None) -> Made:
    name = name or props.get("AlarmName") or _name(ctx, 255)
    args = {key: props[key] for key in _ALARM_KEYS if props.get(key) is not None}
    for key in _ALARM_NUMBERS:  # CloudFormation passes template numbers through as given (often strings)
        if key in args:
            args[key] = int(args[key])
    if "Threshold" in args:
        args["Threshold"] = float(args["Threshold"])
    if isinstance(args.get("ActionsEnabled"), str):
        args["ActionsEnabled"] = args["ActionsEnabled"].lower() == "true"
    _client("cloudwatch", ctx.region).put_metric_alarm(AlarmName=name, **args)
    return Made(name, {"Arn": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{name}"}, props)


def _alarm_update(made: Made, props: dict, ctx: Context) -> Made:
    if props.get("AlarmName") and props["AlarmName"] != made.physical_id:  # a new name is a new alarm
        return _replace(made, props, ctx, _alarm_put, _alarm_delete)
    return _alarm_put(props, ctx, made.physical_id)


def _alarm_delete(made: Made, ctx: Context) -> None:
    _client("cloudwatch", ctx.region).delete_alarms(AlarmNames=[made.physical_id])


# -- the registry ---------------------------------------------------------------------------------------------
def _replace(made: Made, props: dict, ctx: Context, create, delete) -> Made:
    """A change that needs a new resource: create the new one, then delete the old one (as CloudFormation does)."""
    new = create(props, ctx)
    delete(made, ctx)
    return new


def _recreate(create, delete):
    def update(made: Made, props: dict, ctx: Context) -> Made:
        return _replace(made, props, ctx, create, delete)
    return update


def _renew(create, delete):
    """For resources whose identity is their name (a route's key): the old one goes before the new one comes."""
    def update(made: Made, props: dict, ctx: Context) -> Made:
        delete(made, ctx)
        return create(props, ctx)
    return update


def _keep(made: Made, props: dict, ctx: Context) -> Made:
    """Published versions and layer versions never change: a new one is published only when its logical id does."""
    return Made(made.physical_id, made.attrs, props)


# type: (create, update, delete)
PROVIDERS: dict[str, tuple[Callable, Callable, Callable]] = {
    "AWS::Lambda::Function": (_function_create, _function_update, _function_delete),
    "AWS::Lambda::Version": (_version_create, _keep, _version_delete),
    "AWS::Lambda::Alias": (_alias_create, _alias_update, _alias_delete),
    "AWS::Lambda::Permission": (_permission_create, _recreate(_permission_create, _permission_delete),
                                _permission_delete),
    "AWS::Lambda::EventSourceMapping": (_mapping_create, _mapping_update, _mapping_delete),
    "AWS::Lambda::LayerVersion": (_layer_create, _recreate(_layer_create, _layer_delete), _layer_delete),
    "AWS::Lambda::Url": (_url_create, _url_update, _url_delete),
    "AWS::Lambda::EventInvokeConfig": (_invoke_config_put, lambda made, props, ctx: _invoke_config_put(props, ctx),
                                       _invoke_config_delete),
    "AWS::IAM::Role": (_role_create, _role_update, _role_delete),
    "AWS::ApiGateway::RestApi": (_rest_api_create, _rest_api_update, _rest_api_delete),
    "AWS::ApiGateway::Deployment": (_deployment_create, _recreate(_deployment_create, _deployment_delete),
                                    _deployment_delete),
    "AWS::ApiGateway::Stage": (_stage_create, _stage_update, _stage_delete),
    "AWS::ApiGatewayV2::Api": (_http_api_create, _http_api_update, _http_api_delete),
    "AWS::ApiGatewayV2::Stage": (_http_stage_create, _http_stage_update, _http_stage_delete),
    "AWS::ApiGatewayV2::Integration": (_integration_create, _recreate(_integration_create, _integration_delete),
                                       _integration_delete),
    "AWS::ApiGatewayV2::Route": (_route_create, _renew(_route_create, _route_delete), _route_delete),
    "AWS::S3::Bucket": (_bucket_create, _bucket_update, _bucket_delete),
    "AWS::SNS::Subscription": (_subscription_create, _recreate(_subscription_create, _subscription_delete),
                               _subscription_delete),
    "AWS::SQS::QueuePolicy": (_queue_policy_put, lambda made, props, ctx: _queue_policy_put(props, ctx),
                              _queue_policy_delete),
    "AWS::SNS::TopicPolicy": (_topic_policy_put, lambda made, props, ctx: _topic_policy_put(props, ctx),
                              lambda made, ctx: None),
    "AWS::CodeDeploy::Application": (_application_create, _keep, _application_delete),
    "AWS::CodeDeploy::DeploymentGroup": (_group_create, _group_update, _group_delete),
    "AWS::CloudWatch::Alarm": (_alarm_put, _alarm_update, _alarm_delete),
}
