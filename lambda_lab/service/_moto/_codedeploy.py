"""CodeDeploy for Lambda over moto's partial backend: deployments run by the lab's engine (`_deployments.py`).

moto 5.2.1 stores applications and deployment groups but never runs a deployment, has no deployment
configs, `StopDeployment` or `PutLifecycleEventHookExecutionStatus`, and reports no alarm configuration.
Here a deployment of a Lambda application reads its AppSpec, starts in the engine and is answered from it;
server (EC2/on-premises) deployments keep moto's own answers.
"""

from __future__ import annotations

import json
import uuid

import yaml
from moto.codedeploy.models import CodeDeployBackend, DeploymentGroup, codedeploy_backends
from moto.codedeploy.responses import CodeDeployResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError

from .. import _deployments
from .._errors import ServiceError
from . import _state

__all__ = ["bind", "PATCHES", "ADDED_ACTIONS"]

# CodeDeploy actions moto 5.2.1 does not have (NotImplementedError): the lab adds them while installed
ADDED_ACTIONS = ("stop_deployment", "put_lifecycle_event_hook_execution_status", "get_deployment_config",
                 "list_deployment_configs", "create_deployment_config", "delete_deployment_config",
                 "list_deployment_targets", "get_deployment_target", "update_deployment_group",
                 "delete_deployment_group", "delete_application")


def _original(owner, attr):
    return _state.originals[(owner, attr)]


# -- ports: what a deployment does to Lambda, CloudWatch and moto's records ----------------------------
def _set_alias(account: str, region: str, function: str, alias: str, version: str, weights: dict) -> None:
    from moto.awslambda.utils import get_backend

    record = get_backend(account, region).get_alias(alias, function)
    record.update(None, str(version), {"AdditionalVersionWeights": {str(k): v for k, v in weights.items()}}
                  if weights else {})
    record.revision_id = str(uuid.uuid4())  # every change of an alias is a new revision


def _invoke(account: str, region: str, function: str, payload: bytes) -> None:
    from moto.awslambda.utils import get_backend

    from ._records import resolve

    _state.service.invoke(resolve(get_backend(account, region), function, None), payload, "Event")


def _alarm_states(account: str, region: str, names: list) -> dict:
    from moto.cloudwatch.models import cloudwatch_backends

    from ._cloudwatch import _epoch

    alarms = cloudwatch_backends[account][region].alarms
    return {name: (alarms[name].state_value, _epoch(alarms[name].state_updated_timestamp))
            for name in names if name in alarms}


def _group(account: str | None, region: str, application: str, group: str) -> dict:
    account = account or DEFAULT_ACCOUNT_ID
    found = codedeploy_backends[account][region].get_deployment_group(application, group)
    return {"account": account, **_settings(found)}


def _settings(group: DeploymentGroup) -> dict:
    """The deployment group's config name, watched alarms and auto-rollback events, as a deployment uses them."""
    alarms, rollback = _lower(group.alarm_configuration), _lower(group.auto_rollback_configuration)
    return {"deploymentConfigName": str(group.deployment_config_name),
            "alarms": [_lower(a)["name"] for a in alarms.get("alarms") or []] if _true(alarms.get("enabled")) else [],
            "rollbackEvents": set(rollback.get("events") or []) if _true(rollback.get("enabled")) else set()}


def _true(value) -> bool:
    return value is True or str(value).lower() == "true"  # a template may say "true"


def _lower(settings) -> dict:
    """The API's camelCase keys, also from CloudFormation's PascalCase (AlarmConfiguration: {Enabled, Alarms})."""
    return {k[:1].lower() + k[1:]: v for k, v in (settings or {}).items()}


def bind(service) -> _deployments.Deployments:
    """Give the lab `service` its CodeDeploy engine, on its clock."""
    engine = _deployments.Deployments(service.clock, _deployments.Ports(_set_alias, _invoke, _alarm_states, _group))
    _deployments.bind(engine)
    return engine


# -- the API ---------------------------------------------------------------------------------------------
def _error(error: ServiceError) -> JsonRESTError:
    return JsonRESTError(error.code, error.message)


def _engine() -> _deployments.Deployments:
    return _deployments.active()


def _is_lambda(backend: CodeDeployBackend, application: str | None) -> bool:
    app = backend.applications.get(application or "")
    return app is not None and app.compute_platform == "Lambda"


def _create_deployment_group(self: CodeDeployResponse) -> str:
    """A Lambda group defaults to LambdaAllAtOnce (moto: OneAtATime) and must name a Lambda config."""
    application, name = self._get_param("applicationName"), self._get_param("deploymentGroupName")
    config = self._get_param("deploymentConfigName")
    if _is_lambda(self.codedeploy_backend, application) and config:
        try:
            platform, _ = _engine().routing_of(self.current_account, self.region, config)
        except ServiceError as error:
            raise _error(error)
        if platform != "Lambda":
            raise JsonRESTError("InvalidDeploymentConfigNameException",
                                f"The deployment configuration {config} is for {platform}, not a Lambda application: "
                                f"use a CodeDeployDefault.Lambda* configuration.")
    answer = _original(CodeDeployResponse, "create_deployment_group")(self)
    if _is_lambda(self.codedeploy_backend, application) and not config:
        self.codedeploy_backend.deployment_groups[application][name].deployment_config_name = \
            "CodeDeployDefault.LambdaAllAtOnce"
    return answer


def _update_deployment_group(self: CodeDeployResponse) -> str:
    """Change a group's config, alarms, rollback, role or name, as CodeDeploy does (moto 5.2.1 lacks it)."""
    application, name = self._get_param("applicationName"), self._get_param("currentDeploymentGroupName")
    groups = self.codedeploy_backend.deployment_groups.get(application)
    if application not in self.codedeploy_backend.applications:
        raise JsonRESTError("ApplicationDoesNotExistException", f"No application found for name: {application}")
    if not groups or name not in groups:
        raise JsonRESTError("DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}")
    group = groups[name]
    config = self._get_param("deploymentConfigName")
    if config:
        try:
            platform, _ = _engine().routing_of(self.current_account, self.region, config)
        except ServiceError as error:
            raise _error(error)
        if _is_lambda(self.codedeploy_backend, application) and platform != "Lambda":
            raise JsonRESTError("InvalidDeploymentConfigNameException",
                                f"The deployment configuration {config} is for {platform}, not a Lambda application: "
                                f"use a CodeDeployDefault.Lambda* configuration.")
        group.deployment_config_name = config
    for param, attribute in (("alarmConfiguration", "alarm_configuration"),
                             ("autoRollbackConfiguration", "auto_rollback_configuration"),
                             ("serviceRoleArn", "service_role_arn"), ("deploymentStyle", "deployment_style"),
                             ("triggerConfigurations", "trigger_configurations")):
        value = self._get_param(param)
        if value is not None:
            setattr(group, attribute, value)
    new_name = self._get_param("newDeploymentGroupName")
    if new_name and new_name != name:
        if new_name in groups:
            raise JsonRESTError("DeploymentGroupAlreadyExistsException",
                                f"A deployment group named {new_name} already exists for this application.")
        group.deployment_group_name = new_name
        groups[new_name] = groups.pop(name)
    return json.dumps({"hooksNotCleanedUp": []})


def _delete_deployment_group(self: CodeDeployResponse) -> str:
    """Remove a deployment group (moto 5.2.1 lacks it; a stack's deletion needs it)."""
    application, name = self._get_param("applicationName"), self._get_param("deploymentGroupName")
    if application not in self.codedeploy_backend.applications:
        raise JsonRESTError("ApplicationDoesNotExistException", f"No application found for name: {application}")
    groups = self.codedeploy_backend.deployment_groups.get(application) or {}
    if name not in groups:
        raise JsonRESTError("DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}")
    del groups[name]
    return json.dumps({"hooksNotCleanedUp": []})


def _delete_application(self: CodeDeployResponse) -> str:
    """Remove an application and its deployment groups (moto 5.2.1 lacks it; a stack's deletion needs it)."""
    application = self._get_param("applicationName")
    self.codedeploy_backend.applications.pop(application, None)
    self.codedeploy_backend.deployment_groups.pop(application, None)
    return "{}"


def _group_to_dict(self: DeploymentGroup) -> dict:
    answer = _original(DeploymentGroup, "to_dict")(self)
    answer["alarmConfiguration"] = self.alarm_configuration or {"enabled": False, "alarms": []}
    return answer


def _create_deployment(self: CodeDeployResponse) -> str:
    application, group = self._get_param("applicationName"), self._get_param("deploymentGroupName")
    backend = self.codedeploy_backend
    if not _is_lambda(backend, application):
        return _original(CodeDeployResponse, "create_deployment")(self)
    found = backend.get_deployment_group(application, group or "")
    settings = _settings(found)
    config = self._get_param("deploymentConfigName") or settings["deploymentConfigName"]
    rollback = self._get_param("autoRollbackConfiguration")
    if rollback is not None:  # the deployment's own setting overrides the group's
        settings["rollbackEvents"] = set(rollback.get("events") or []) if rollback.get("enabled") else set()
    revision = self._get_param("revision") or {}
    spec, content = _appspec(revision)
    problem = _problem(self.current_account, self.region, spec)
    try:
        deployment = _engine().start(
            self.current_account, self.region, application, group, config, spec["Name"], spec["Alias"],
            spec["CurrentVersion"], spec["TargetVersion"], spec["Hooks"], settings["alarms"],
            settings["rollbackEvents"], _deployments.appspec_revision(content), self._get_param("description"),
            problem=problem)
    except ServiceError as error:
        raise _error(error)
    return json.dumps({"deploymentId": deployment.deployment_id})


def _appspec(revision: dict) -> tuple[dict, str]:
    """The Lambda AppSpec's one function resource and hooks, from an AppSpecContent (or String) revision."""
    kind = revision.get("revisionType")
    if kind not in ("AppSpecContent", "String"):
        raise JsonRESTError("InvalidRevisionException",
                            f"A Lambda deployment's revision is its AppSpec: pass revision={{'revisionType': "
                            f"'AppSpecContent', 'appSpecContent': {{'content': <YAML or JSON>}}}} (not {kind!r}).")
    content = (revision.get("appSpecContent") or revision.get("string") or {}).get("content") or ""
    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError as error:
        raise JsonRESTError("InvalidRevisionException", f"The AppSpec content is not valid YAML or JSON: {error}")
    resources = (document or {}).get("Resources") if isinstance(document, dict) else None
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], dict):
        raise JsonRESTError("InvalidRevisionException",
                            "The AppSpec must list exactly one resource under Resources: - <name>: {Type: "
                            "AWS::Lambda::Function, Properties: {Name, Alias, CurrentVersion, TargetVersion}}.")
    (resource,) = resources[0].values()
    properties = (resource or {}).get("Properties") or {}
    missing = [k for k in ("Name", "Alias", "CurrentVersion", "TargetVersion") if properties.get(k) in (None, "")]
    if (resource or {}).get("Type") != "AWS::Lambda::Function" or missing:
        raise JsonRESTError("InvalidRevisionException",
                            f"The AppSpec resource must have Type AWS::Lambda::Function and Properties Name, Alias, "
                            f"CurrentVersion and TargetVersion (missing: {', '.join(missing) or 'none'}).")
    hooks = {}
    for entry in document.get("Hooks") or []:
        for event, function in (entry or {}).items():
            if event not in _deployments.HOOKS:
                raise JsonRESTError("InvalidRevisionException", f"{event} is not a Lambda lifecycle hook: use "
                                                                "BeforeAllowTraffic or AfterAllowTraffic.")
            hooks[event] = str(function)
    spec = {k: str(properties[k]) for k in ("Name", "Alias", "CurrentVersion", "TargetVersion")}
    return {**spec, "Hooks": hooks}, content


def _problem(account: str, region: str, spec: dict) -> tuple[str, str] | None:
    """Why the AppSpec cannot deploy (the deployment then fails as it starts), or None."""
    from moto.awslambda.utils import get_backend

    storage = get_backend(account, region)._lambdas
    name = spec["Name"].split(":")[6] if spec["Name"].startswith("arn:") else spec["Name"]
    if storage._functions.get(name) is None:
        return "INVALID_LAMBDA_FUNCTION", f"The Lambda function {name} in the AppSpec does not exist."
    alias = storage._aliases[f"arn:aws:lambda:{region}:{account}:function:{name}"].get(spec["Alias"])
    if alias is None:
        return "INVALID_LAMBDA_CONFIGURATION", f"The alias {spec['Alias']} of function {name} does not exist."
    for key in ("CurrentVersion", "TargetVersion"):
        if storage._get_version(name, spec[key]) is None:
            return "INVALID_LAMBDA_CONFIGURATION", f"The {key} {spec[key]} of function {name} does not exist: " \
                                                   f"publish_version first."
    if str(alias.function_version) != spec["CurrentVersion"]:
        return "INVALID_LAMBDA_CONFIGURATION", (
            f"The AppSpec's CurrentVersion {spec['CurrentVersion']} is not the version alias {spec['Alias']} points "
            f"to ({alias.function_version}).")
    spec["Name"] = name
    return None


def _info(d: _deployments.Deployment) -> dict:
    """A deployment as GetDeployment's deploymentInfo shapes it."""
    target = {"Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 0}
    target[{"Created": "Pending", "Stopped": "Failed"}.get(d.status, d.status)] = 1
    info = {
        "applicationName": d.application, "deploymentGroupName": d.group, "deploymentConfigName": d.config_name,
        "deploymentId": d.deployment_id, "revision": d.revision, "status": d.status, "createTime": d.created_at,
        "deploymentOverview": target, "creator": d.creator, "ignoreApplicationStopFailures": False,
        "autoRollbackConfiguration": {"enabled": bool(d.rollback_events), "events": sorted(d.rollback_events)},
        "updateOutdatedInstancesOnly": False, "computePlatform": "Lambda", "instanceTerminationWaitTimeStarted": False,
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "deploymentStatusMessages": [], "fileExistsBehavior": "DISALLOW"}
    optional = {"startTime": d.started_at, "completeTime": d.completed_at, "errorInformation": d.error,
                "rollbackInfo": d.rollback_info, "description": d.description}
    info.update({k: v for k, v in optional.items() if v is not None})
    return info


def _get_deployment(self: CodeDeployResponse) -> str:
    deployment_id = self._get_param("deploymentId")
    found = _engine().deployments.get(deployment_id)
    if found is None:
        return _original(CodeDeployResponse, "get_deployment")(self)
    return json.dumps({"deploymentInfo": _info(found)})


def _batch_get_deployments(self: CodeDeployResponse) -> str:
    ids = self._get_param("deploymentIds") or []
    ours = _engine().deployments
    theirs = self.codedeploy_backend.batch_get_deployments([i for i in ids if i not in ours])
    infos = [_info(ours[i]) for i in ids if i in ours] + [d.to_dict() for d in theirs]
    return json.dumps({"deploymentsInfo": infos})


def _list_deployments(self: CodeDeployResponse) -> str:
    application, group = self._get_param("applicationName"), self._get_param("deploymentGroupName")
    statuses = self._get_param("includeOnlyStatuses") or []
    ids = json.loads(_original(CodeDeployResponse, "list_deployments")(self))["deployments"]
    for d in _engine().deployments.values():
        if (d.account, d.region) != (self.current_account, self.region):
            continue
        if (application and d.application != application) or (group and d.group != group):
            continue
        if statuses and d.status not in statuses:
            continue
        ids.append(d.deployment_id)
    return json.dumps({"deployments": ids})


def _stop_deployment(self: CodeDeployResponse) -> str:
    rollback = self._get_param("autoRollbackEnabled")
    try:
        _engine().stop(self._get_param("deploymentId"), rollback)
    except ServiceError as error:
        raise _error(error)
    return json.dumps({"status": "Pending", "statusMessage": "Stopping Pending. Stopping to deploy the remaining "
                                                             "targets."})


def _put_lifecycle_event_hook_execution_status(self: CodeDeployResponse) -> str:
    execution_id = self._get_param("lifecycleEventHookExecutionId")
    try:
        _engine().report_hook(self._get_param("deploymentId"), execution_id, self._get_param("status"))
    except ServiceError as error:
        raise _error(error)
    return json.dumps({"lifecycleEventHookExecutionId": execution_id})


# -- deployment configs ----------------------------------------------------------------------------------
def _config_info(name: str, platform: str, routing: dict | None, created: float | None, config_id: str) -> dict:
    info = {"deploymentConfigId": config_id, "deploymentConfigName": name, "computePlatform": platform}
    if created is not None:
        info["createTime"] = created
    if routing is not None:
        info["trafficRoutingConfig"] = routing
    if platform == "Server":
        info["minimumHealthyHosts"] = {"AllAtOnce": {"type": "FLEET_PERCENT", "value": 0},
                                       "HalfAtATime": {"type": "FLEET_PERCENT", "value": 50},
                                       "OneAtATime": {"type": "HOST_COUNT", "value": 1}}[name.split(".")[1]]
    return info


def _get_deployment_config(self: CodeDeployResponse) -> str:
    name = self._get_param("deploymentConfigName")
    engine = _engine()
    custom = engine.configs.get((self.current_account, self.region, name))
    if custom is not None:
        return json.dumps({"deploymentConfigInfo": custom})
    try:
        platform, routing = engine.routing_of(self.current_account, self.region, name or "")
    except ServiceError as error:
        raise _error(error)
    config_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"codedeploy:{name}"))
    return json.dumps({"deploymentConfigInfo": _config_info(name, platform, routing, None, config_id)})


def _list_deployment_configs(self: CodeDeployResponse) -> str:
    custom = [n for (a, r, n) in _engine().configs if (a, r) == (self.current_account, self.region)]
    return json.dumps({"deploymentConfigsList": list(_deployments.PREDEFINED) + sorted(custom)})


def _create_deployment_config(self: CodeDeployResponse) -> str:
    name, platform = self._get_param("deploymentConfigName"), self._get_param("computePlatform") or "Server"
    routing = self._get_param("trafficRoutingConfig")
    engine = _engine()
    key = (self.current_account, self.region, name)
    if not name:
        raise JsonRESTError("DeploymentConfigNameRequiredException", "A deployment configuration name is required.")
    if name in _deployments.PREDEFINED or key in engine.configs:
        raise JsonRESTError("DeploymentConfigAlreadyExistsException",
                            f"A deployment configuration named {name} already exists: pick another name.")
    if platform in ("Lambda", "ECS"):
        _check_routing(routing)
    config_id = str(uuid.uuid4())
    engine.configs[key] = _config_info(name, platform, routing, engine.clock.now(), config_id)
    if self._get_param("minimumHealthyHosts"):
        engine.configs[key]["minimumHealthyHosts"] = self._get_param("minimumHealthyHosts")
    return json.dumps({"deploymentConfigId": config_id})


def _check_routing(routing: dict | None) -> None:
    kind = (routing or {}).get("type")
    needs = {"TimeBasedCanary": ("timeBasedCanary", "canaryPercentage", "canaryInterval"),
             "TimeBasedLinear": ("timeBasedLinear", "linearPercentage", "linearInterval")}
    if kind == "AllAtOnce":
        return
    if kind not in needs:
        raise JsonRESTError("InvalidTrafficRoutingConfigurationException",
                            "A Lambda deployment configuration needs trafficRoutingConfig with type AllAtOnce, "
                            f"TimeBasedCanary or TimeBasedLinear (got {kind!r}).")
    member, percent, interval = needs[kind]
    values = (routing.get(member) or {})
    if not (isinstance(values.get(percent), int) and 1 <= values[percent] <= 99) or \
            not (isinstance(values.get(interval), int) and values[interval] >= 1):
        raise JsonRESTError("InvalidTrafficRoutingConfigurationException",
                            f"{kind} needs {member} with {percent} between 1 and 99 and {interval} (minutes) of at "
                            f"least 1, e.g. {{'{percent}': 10, '{interval}': 5}}.")


def _delete_deployment_config(self: CodeDeployResponse) -> str:
    name = self._get_param("deploymentConfigName")
    if name in _deployments.PREDEFINED:
        raise JsonRESTError("InvalidOperationException",
                            f"{name} is a predefined deployment configuration and cannot be deleted.")
    _engine().configs.pop((self.current_account, self.region, name), None)
    return "{}"


# -- targets: the function and its lifecycle events --------------------------------------------------------
def _list_deployment_targets(self: CodeDeployResponse) -> str:
    try:
        d = _engine().get(self._get_param("deploymentId"))
    except ServiceError as error:
        raise _error(error)
    return json.dumps({"targetIds": [f"{d.function}:{d.alias}"]})


def _get_deployment_target(self: CodeDeployResponse) -> str:
    try:
        d = _engine().get(self._get_param("deploymentId"))
    except ServiceError as error:
        raise _error(error)
    target_id = f"{d.function}:{d.alias}"
    if self._get_param("targetId") != target_id:
        raise JsonRESTError("DeploymentTargetDoesNotExistException",
                            f"The target {self._get_param('targetId')} is not part of deployment {d.deployment_id}: "
                            f"its target is {target_id}.")
    status = {"Created": "Pending", "Stopped": "Failed"}.get(d.status, d.status)
    events = [dict(d.events[name]) for name in _deployments.EVENTS]
    last = max([d.created_at] + [t for e in events for t in (e.get("startTime"), e.get("endTime")) if t])
    return json.dumps({"deploymentTarget": {"deploymentTargetType": "LambdaTarget", "lambdaTarget": {
        "deploymentId": d.deployment_id, "targetId": target_id, "status": status, "lastUpdatedAt": last,
        "targetArn": f"arn:aws:lambda:{d.region}:{d.account}:function:{target_id}", "lifecycleEvents": events,
        "lambdaFunctionInfo": {"functionName": d.function, "functionAlias": d.alias, "currentVersion": d.current,
                               "targetVersion": d.target, "targetVersionWeight": d.weight}}}})


PATCHES = {
    (CodeDeployResponse, "create_deployment_group"): _create_deployment_group,
    (DeploymentGroup, "to_dict"): _group_to_dict,
    (CodeDeployResponse, "create_deployment"): _create_deployment,
    (CodeDeployResponse, "get_deployment"): _get_deployment,
    (CodeDeployResponse, "batch_get_deployments"): _batch_get_deployments,
    (CodeDeployResponse, "list_deployments"): _list_deployments,
    (CodeDeployResponse, "stop_deployment"): _stop_deployment,
    (CodeDeployResponse, "put_lifecycle_event_hook_execution_status"): _put_lifecycle_event_hook_execution_status,
    (CodeDeployResponse, "get_deployment_config"): _get_deployment_config,
    (CodeDeployResponse, "list_deployment_configs"): _list_deployment_configs,
    (CodeDeployResponse, "create_deployment_config"): _create_deployment_config,
    (CodeDeployResponse, "delete_deployment_config"): _delete_deployment_config,
    (CodeDeployResponse, "list_deployment_targets"): _list_deployment_targets,
    (CodeDeployResponse, "get_deployment_target"): _get_deployment_target,
    (CodeDeployResponse, "update_deployment_group"): _update_deployment_group,
    (CodeDeployResponse, "delete_deployment_group"): _delete_deployment_group,
    (CodeDeployResponse, "delete_application"): _delete_application,
}
