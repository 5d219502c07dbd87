"""moto's CloudFormation with CloudFormation's behaviour: SAM transforms, per-resource events, rollbacks.

moto keeps the stack record (status, events, parameters, intrinsic functions, outputs). The lab replaces how
resources are made: the types in `_stacks.PROVIDERS` are created through the lab's own API (so every Lambda rule
applies to them), other types through moto's models, and a type neither knows fails the stack, naming it, as
CloudFormation fails it. Updates run in dependency order with a cleanup phase after, as CloudFormation's do; a
failure rolls the stack back (ROLLBACK_COMPLETE, UPDATE_ROLLBACK_COMPLETE).
"""

from __future__ import annotations

import json
import re

import yaml
from botocore.exceptions import ClientError
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.parsing import OutputMap, ResourceMap
from moto.cloudformation.utils import yaml_tag_constructor
from yaml.parser import ParserError
from yaml.scanner import ScannerError

from .. import _stacks
from .._iam_propagation import settled
from .._stacks import PROVIDERS, Context, Made, StackFailure
from . import _state
from ._managed_policies import _catalogue

_DEPLOYMENT_POLL_S = 5.0  # lab seconds between looks at a CodeDeploy deployment a stack update waits for


def _original(owner, attr):
    return _state.originals[(owner, attr)]


# -- resource models: the lab's providers behind moto's model interface -------------------------------------
class LabResource:
    """A resource the lab made through its own API; moto's stack sees it as one of its models."""

    resource_type = ""

    def __init__(self, made: Made, ctx: Context) -> None:
        self.made, self.ctx = made, ctx

    @property
    def physical_resource_id(self) -> str:
        return self.made.physical_id

    def get_cfn_attribute(self, attribute: str):
        if attribute not in self.made.attrs:
            raise ValidationError(message=f"Template error: resource {self.ctx.logical_id} does not support attribute "
                                          f"type {attribute} in Fn::GetAtt (lambda-lab knows: "
                                          f"{', '.join(sorted(self.made.attrs)) or 'none'})")
        return self.made.attrs[attribute]

    def is_created(self) -> bool:
        return True

    @staticmethod
    def has_cfn_attr(attribute: str) -> bool:
        return True

    @staticmethod
    def cloudformation_name_type() -> str | None:
        return None

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.resource_type

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        ctx = _context(kwargs.get("StackId", ""), kwargs.get("LogicalId", ""), resource_name, cloudformation_json,
                       account_id, region_name)
        return cls(PROVIDERS[cls.resource_type][0](cloudformation_json.get("Properties") or {}, ctx), ctx)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        old = original_resource.ctx
        ctx = _context(old.stack_id, old.logical_id, new_resource_name, cloudformation_json, account_id, region_name)
        made = PROVIDERS[cls.resource_type][1](original_resource.made, cloudformation_json.get("Properties") or {}, ctx)
        return cls(made, ctx)

    def delete(self, account_id: str, region_name: str) -> None:
        PROVIDERS[self.resource_type][2](self.made, self.ctx)


class Unsupported:
    """A resource type neither the lab nor moto emulates: creating it fails the stack, as CloudFormation would."""

    resource_type = ""

    @staticmethod
    def has_cfn_attr(attribute: str) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        raise StackFailure(f"lambda-lab does not emulate resource type {cls.resource_type}; it emulates "
                           f"{', '.join(sorted(PROVIDERS))} and moto's own types. Remove the resource, or deploy "
                           "this template to a real account (Lab(backend='aws')).")

    update_from_cloudformation_json = create_from_cloudformation_json


_MODELS: dict[str, type] = {}


def _model(resource_type: str, base: type) -> type:
    key = f"{base.__name__}:{resource_type}"
    if key not in _MODELS:
        _MODELS[key] = type(base.__name__ + "_" + re.sub(r"\W", "_", resource_type), (base,),
                            {"resource_type": resource_type})
    return _MODELS[key]


def _resource_class_from_type(resource_type: str):
    if resource_type in PROVIDERS:
        return _model(resource_type, LabResource)
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return _model(resource_type, Unsupported)  # moto's would wait forever for a reply from a moto server
    found = _original(parsing, "resource_class_from_type")(resource_type)
    if found is None and resource_type not in parsing.NULL_MODELS:
        return _model(resource_type, Unsupported)
    return found


def _context(stack_id: str, logical_id: str, name: str, resource: dict, account: str, region: str) -> Context:
    stack = _stack(account, region, stack_id)
    ctx = Context(region=region, account=account, stack_name=stack.name if stack else name.split("-")[0],
                  logical_id=logical_id, name=name, resource=resource,
                  deployments=getattr(stack, "lab_deployments", []) if stack else [], stack_id=stack_id)
    return ctx


def _stack(account: str, region: str, stack_id: str) -> Stack | None:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account][region].stacks.get(stack_id)


def managed_policy_map() -> dict[str, str]:
    """Every AWS managed policy in AWS's catalogue (moto's copy), by name: what SAM's `Policies` may name.

    Attaching one makes it real in the lab's IAM (_managed_policies), so no policy is loaded that no role uses."""
    return {name: f"arn:aws:iam::aws:policy{data.get('Path') or '/'}{name}" for name, data in _catalogue().items()}


# -- events ---------------------------------------------------------------------------------------------------
def _event(stack: Stack | None, logical_id: str, resource_type: str, status: str, physical_id: str = "",
           reason: str | None = None) -> None:
    if stack is None:
        return
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                              physical_resource_id=physical_id, resource_type=resource_type,
                              resource_status=status, resource_status_reason=reason, resource_properties=None))


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f'Resource handler returned message: "{detail.get("Message", "")}" ' \
               f'(HandlerErrorCode: {detail.get("Code", "InvalidRequest")})'
    message = getattr(error, "message", None) or str(error)
    return message if isinstance(error, StackFailure) else f"{type(error).__name__}: {message}"


class _Failed(Exception):
    """A resource failed and its event is written; the stack rolls back."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id


def _stack_of(resources_map: ResourceMap) -> Stack | None:
    # moto takes a stack out of its list before deleting it: the map keeps its own stack while it works
    return resources_map.__dict__.get("lab_stack") or _stack(resources_map._account_id, resources_map._region_name,
                                                             resources_map.stack_id)


def _parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
    """moto's, with CloudFormation's events; what a resource references is made before it starts."""
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    resource_type = resource_json["Type"]
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
    if not parsed:
        return None
    cls, cleaned, physical_name = parsed
    stack = _stack_of(resources_map)
    _event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    try:
        with settled():  # CloudFormation goes on once IAM has the role: nothing it makes waits for IAM
            resource = cls.create_from_cloudformation_json(physical_name, cleaned, account_id, region_name,
                                                           LogicalId=logical_id, StackId=resources_map.stack_id,
                                                           ResourceType=resource_type)
    except _Failed:
        raise
    except Exception as error:
        _event(stack, logical_id, resource_type, "CREATE_FAILED", reason=_reason(error))
        raise _Failed(logical_id, _reason(error)) from error
    resource.cf_resource_type = resource_type
    resource.logical_resource_id = logical_id
    _event(stack, logical_id, resource_type, "CREATE_COMPLETE", str(getattr(resource, "physical_resource_id", "")))
    resources_map.__dict__.setdefault("lab_created", []).append(logical_id)
    return resource


def _update_resource(resources_map: ResourceMap, logical_id: str):
    resource_json = resources_map._resource_json_map[logical_id]
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
    if not parsed:
        return None
    cls, cleaned, new_name = parsed
    original = resources_map._parsed_resources.get(logical_id)
    if original is None:  # never made (its condition was false): make it now
        return resources_map[logical_id]
    stack = _stack_of(resources_map)
    _event(stack, logical_id, resource_json["Type"], "UPDATE_IN_PROGRESS",
           str(getattr(original, "physical_resource_id", "")))
    try:
        if hasattr(cls.update_from_cloudformation_json, "__isabstractmethod__"):
            resource = original
        else:
            with settled():
                resource = cls.update_from_cloudformation_json(original_resource=original, new_resource_name=new_name,
                                                               cloudformation_json=cleaned,
                                                               account_id=resources_map._account_id,
                                                               region_name=resources_map._region_name)
    except Exception as error:
        _event(stack, logical_id, resource_json["Type"], "UPDATE_FAILED", reason=_reason(error))
        raise _Failed(logical_id, _reason(error)) from error
    if resource is not None:
        resource.cf_resource_type = resource_json["Type"]
        resource.logical_resource_id = logical_id
    _event(stack, logical_id, resource_json["Type"], "UPDATE_COMPLETE",
           str(getattr(resource, "physical_resource_id", "")))
    return resource


def _delete_resource(self: ResourceMap, parsed_resource, resource_json: dict) -> None:
    stack = _stack_of(self)
    logical_id = getattr(parsed_resource, "logical_resource_id", "")
    physical = str(getattr(parsed_resource, "physical_resource_id", ""))
    _event(stack, logical_id, resource_json["Type"], "DELETE_IN_PROGRESS", physical)
    try:
        _original(ResourceMap, "_delete_resource")(self, parsed_resource, resource_json)
    except Exception as error:
        _event(stack, logical_id, resource_json["Type"], "DELETE_FAILED", physical, _reason(error))
        raise
    _event(stack, logical_id, resource_json["Type"], "DELETE_COMPLETE", physical)


# -- dependency order -----------------------------------------------------------------------------------------
def _references(value) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", str(text))}
                found |= _references(inner[1] if isinstance(inner, list) and len(inner) > 1 else None)
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _dependency_order(resources: dict) -> list[str]:
    """Logical ids, each after every resource it references or depends on."""
    depends = {}
    for logical_id, body in resources.items():
        declared = body.get("DependsOn") or []
        depends[logical_id] = (_references(body) | set([declared] if isinstance(declared, str) else declared)) & \
            set(resources) - {logical_id}
    ordered: list[str] = []

    def visit(logical_id: str, path: tuple = ()) -> None:
        if logical_id in ordered or logical_id in path:
            return
        for dependency in sorted(depends[logical_id]):
            visit(dependency, path + (logical_id,))
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


def _update_map(self: ResourceMap, template: dict, parameters: dict | None = None) -> None:
    """Add and modify in dependency order, then remove what is gone (CloudFormation's cleanup phase)."""
    changes = self.build_resource_diff(template, parameters)
    old_resources = self._resource_json_map
    self._template = template
    if parameters:
        self.input_parameters = parameters
    self.load_mapping()
    self.load_parameters()
    self.load_conditions()
    self._resource_json_map = template["Resources"]
    wanted = set(changes["Add"]) | set(changes["Modify"])
    for logical_id in _dependency_order(template["Resources"]):
        if logical_id in changes["Add"]:
            _ = self[logical_id]
        elif logical_id in wanted:
            self._parsed_resources[logical_id] = _update_resource(self, logical_id)
    # what is gone goes in the cleanup phase, once the update succeeded; a rollback still has it
    self.lab_cleanup = [(logical_id, old_resources[logical_id]) for logical_id in
                        reversed(_dependency_order(old_resources)) if logical_id in changes["Remove"]]


def _clean_up(resources: ResourceMap) -> None:
    """CloudFormation's cleanup phase: delete the resources the new template no longer has (Retain keeps them)."""
    for logical_id, body in resources.__dict__.pop("lab_cleanup", []):
        _delete_or_keep(resources, logical_id, body)


def _delete_or_keep(resources: ResourceMap, logical_id: str, body: dict) -> None:
    """Delete a resource the stack no longer has, or keep it (DELETE_SKIPPED) when its DeletionPolicy says Retain;
    a failure is its DELETE_FAILED event, and the operation goes on, as CloudFormation's cleanup does."""
    resource = resources._parsed_resources.pop(logical_id, None)
    if resource is None or isinstance(resource, str):
        return
    if body.get("DeletionPolicy") == "Retain":
        _event(_stack_of(resources), logical_id, body["Type"], "DELETE_SKIPPED",
               str(getattr(resource, "physical_resource_id", "")))
        return
    try:
        resources._delete_resource(resource, body)
    except Exception:
        pass


def _delete_map(self: ResourceMap) -> None:
    """Delete what the stack made, dependents first; Retain keeps a resource (DELETE_SKIPPED)."""
    failed = None
    stack = _stack_of(self)
    for logical_id in reversed(_dependency_order(self._resource_json_map)):
        resource = self._parsed_resources.get(logical_id)
        body = self._resource_json_map[logical_id]
        if resource is None or isinstance(resource, str):
            continue
        if body.get("DeletionPolicy") == "Retain":
            _event(stack, logical_id, body["Type"], "DELETE_SKIPPED", str(getattr(resource, "physical_resource_id",
                                                                                  "")))
            continue
        try:
            self._delete_resource(resource, body)
            self._parsed_resources.pop(logical_id)
        except Exception as error:
            failed = failed or error
    if failed is not None:
        raise failed


# -- stacks -----------------------------------------------------------------------------------------------------
def _create_resources(self: Stack) -> None:
    self.status = "CREATE_IN_PROGRESS"
    try:
        ready = self.resource_map.create(self.template_dict)
    except _Failed as failure:
        _roll_back_create(self, failure.logical_id)
        return
    except Exception as error:  # a template error found while resolving an intrinsic function
        self._add_stack_event("CREATE_FAILED", resource_status_reason=_reason(error))
        _roll_back_create(self, None)
        return
    self.description = self.template_dict.get("Description")
    if ready:
        self.mark_creation_complete()


def _roll_back_create(stack: Stack, failed: str | None) -> None:
    why = f"The following resource(s) failed to create: [{failed}]. " if failed else ""
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=why + "Rollback requested by user.")
    resources = stack.resource_map
    for logical_id in reversed(resources.__dict__.get("lab_created", [])):
        _delete_or_keep(resources, logical_id, resources._resource_json_map[logical_id])
    resources._resource_json_map = {}  # nothing left: describe_stack_resources must not make them again
    stack.output_map = OutputMap(resources, {}, stack.stack_id)
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _update_stack_record(self: Stack, template: str, role_arn: str | None = None, parameters: dict | None = None,
                         tags: dict | None = None) -> None:
    old_template, old_parameters = self.template, dict(self.resource_map.input_parameters or {})
    self.status = "UPDATE_IN_PROGRESS"
    self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    self.lab_deployments = []
    try:
        self.template = template
        self._parse_template()
        self.resource_map.update(self.template_dict, parameters)
        self.output_map = self._create_output_map()
    except Exception as error:
        failed = error.logical_id if isinstance(error, _Failed) else None
        self.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        self._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=(
            f"The following resource(s) failed to update: [{failed}]. " if failed else _reason(error) + " "))
        _roll_back_update(self, old_template, old_parameters)
        return
    self.role_arn = role_arn
    if parameters:
        self.parameters = parameters
    if tags is not None:
        self.tags = tags
    if self.lab_deployments:  # CodeDeploy moves the alias; the stack waits for it, on the lab clock
        _watch_deployments(self, old_template, old_parameters)
        return
    _complete_update(self)


def _complete_update(stack: Stack) -> None:
    stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    _clean_up(stack.resource_map)
    stack.status = "UPDATE_COMPLETE"
    stack._add_stack_event("UPDATE_COMPLETE")


def _roll_back_update(stack: Stack, old_template: str, old_parameters: dict) -> None:
    stack.template = old_template
    stack._parse_template()
    stack.lab_deployments = None  # the rollback moves aliases back itself, never through CodeDeploy
    stack.resource_map.__dict__.pop("lab_cleanup", None)  # the old resources stay: they are the stack again
    try:
        stack.resource_map.update(stack.template_dict, old_parameters)
    except Exception:  # the events name what could not be put back
        pass
    stack.output_map = stack._create_output_map()
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(stack.resource_map)  # what the failed update added goes
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def _watch_deployments(stack: Stack, old_template: str, old_parameters: dict) -> None:
    from .._deployments import deployment_status

    service, pending = _state.service, list(stack.lab_deployments)

    def look() -> None:
        if _state.service is not service:
            return
        states = [deployment_status(stack.region_name, d) for d in pending]
        if "InProgress" in states or any(s not in ("Succeeded", "Failed", "Stopped") for s in states):
            service.clock.call_later(_DEPLOYMENT_POLL_S, look)
        elif all(s == "Succeeded" for s in states):
            _complete_update(stack)
        else:
            stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
            stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=(
                f"CodeDeploy deployment(s) {', '.join(pending)} did not succeed ({', '.join(states)})."))
            _roll_back_update(stack, old_template, old_parameters)

    service.clock.call_later(_DEPLOYMENT_POLL_S, look)


def _delete_stack_record(self: Stack) -> None:
    self.status = "DELETE_IN_PROGRESS"
    self._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    self.resource_map.lab_stack = self
    try:
        self.resource_map.delete()
    except Exception as error:
        self.status = "DELETE_FAILED"
        self._add_stack_event("DELETE_FAILED", resource_status_reason=_reason(error))
        return
    self.status = "DELETE_COMPLETE"
    self._add_stack_event("DELETE_COMPLETE")


# -- the API: SAM transforms, "no updates", change sets ----------------------------------------------------
class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


_last: dict = {}  # the last template translated: the capability check and the backend share one transform


_LIBYAML = getattr(yaml, "CLoader", None)  # PyYAML's wheels have it; a build without libyaml keeps moto's parser
if _LIBYAML is not None:
    yaml.add_multi_constructor("", yaml_tag_constructor, Loader=_LIBYAML)  # !Ref, !Sub, ... as moto reads them


def _parse_template(template: str) -> dict:
    """moto's `parse_template` (YAML with CloudFormation's short tags, else JSON) on libyaml's parser: the same
    documents and errors for a ninth of the CPU (3.5 ms vs 0.4 ms for notebooks/templates/prices.yaml); a
    stack's template is parsed again at each operation: 227 times in a run of six of the suite's files."""
    try:
        return yaml.load(template, Loader=_LIBYAML)
    except (ParserError, ScannerError):
        return json.loads(template)


def _parsed(template: str) -> dict | None:
    try:
        parsed = Stack.parse_template(template)
    except Exception:
        return None  # moto's own parser reports it
    return parsed if isinstance(parsed, dict) else None


def _processed(backend: CloudFormationBackend, template: str, parameters: dict) -> str:
    """The template CloudFormation deploys: SAM's transform applied (AWS's own translator)."""
    parsed = _parsed(template)
    if parsed is None or not _stacks.is_sam(parsed):
        return template
    key = (backend.account_id, backend.region_name, template, json.dumps(parameters or {}, sort_keys=True,
                                                                         default=str))
    if _last.get("key") != key:
        try:
            done = _stacks.transform(parsed, dict(parameters or {}), backend.region_name, backend.account_id,
                                     managed_policy_map)
        except ValueError as error:
            raise ValidationError(message=str(error)) from None
        _last.update(key=key, value=json.dumps(done))
    return _last["value"]


def _acknowledging(action: str, reviewed: bool = False):
    """CreateStack, UpdateStack and CreateChangeSet refuse a template whose capabilities the caller did not
    acknowledge: IAM resources (CAPABILITY_IAM, CAPABILITY_NAMED_IAM), a transform run without a change set to
    review (CAPABILITY_AUTO_EXPAND)."""

    def method(self: CloudFormationResponse):
        template = self._get_param("TemplateBody")
        parsed = _parsed(template) if template else None
        if parsed is not None:
            given = set(self._get_param("Capabilities", []) or [])
            if _stacks.is_sam(parsed) and not reviewed and "CAPABILITY_AUTO_EXPAND" not in given:
                raise InsufficientCapabilities("Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
            values = {p["ParameterKey"]: p["ParameterValue"] for p in self._get_param("Parameters", []) or []
                      if "ParameterValue" in p}
            processed = _parsed(_processed(self.cloudformation_backend, template, values)) or parsed
            needed = _stacks.required_capabilities(processed)
            if needed and not (given & ({"CAPABILITY_NAMED_IAM"} if needed == ["CAPABILITY_NAMED_IAM"] else
                                        {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"})):
                raise InsufficientCapabilities(f"Requires capabilities : [{', '.join(needed)}]")
        return _original(CloudFormationResponse, action)(self)

    method.__name__ = action
    return method


def _create_stack(self: CloudFormationBackend, name, template, parameters, *args, **kwargs):
    return _original(CloudFormationBackend, "create_stack")(self, name, _processed(self, template, parameters),
                                                            parameters, *args, **kwargs)


def _update_stack(self: CloudFormationBackend, name, template, role_arn, parameters, tags):
    stack = self.get_stack(name)
    if stack.status.endswith("_IN_PROGRESS"):
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
    values = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
    processed = _processed(self, template, values)
    if stack.has_template(processed) and stack.stack_parameters == {**stack.stack_parameters, **values}:
        raise ValidationError(message="No updates are to be performed.")
    return _original(CloudFormationBackend, "update_stack")(self, name, processed, role_arn, parameters, tags)


def _create_change_set(self: CloudFormationBackend, stack_name, change_set_name, template, parameters, *args,
                       **kwargs):
    return _original(CloudFormationBackend, "create_change_set")(
        self, stack_name, change_set_name, _processed(self, template, parameters), parameters, *args, **kwargs)


def _execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = self.describe_change_set(change_set_name)
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
                                      f"status of [{change_set.status}]")
    stack = self.stacks[change_set.stack_id]
    if change_set.change_set_type == "CREATE":
        stack.template, stack.parameters = change_set.template, change_set.parameters
        stack._parse_template()
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.create_resources()
    else:
        stack.update(change_set.template, change_set.role_arn, parameters=change_set.parameters)
    change_set.execution_status = "EXECUTE_COMPLETE"


PATCHES = {
    (parsing, "resource_class_from_type"): _resource_class_from_type,
    (parsing, "parse_and_create_resource"): _parse_and_create_resource,
    (ResourceMap, "_delete_resource"): _delete_resource,
    (ResourceMap, "update"): _update_map,
    (ResourceMap, "delete"): _delete_map,
    (Stack, "create_resources"): _create_resources,
    (Stack, "update"): _update_stack_record,
    (Stack, "delete"): _delete_stack_record,
    **({(Stack, "parse_template"): staticmethod(_parse_template)} if _LIBYAML is not None else {}),
    (CloudFormationBackend, "create_stack"): _create_stack,
    (CloudFormationBackend, "update_stack"): _update_stack,
    (CloudFormationBackend, "create_change_set"): _create_change_set,
    (CloudFormationBackend, "execute_change_set"): _execute_change_set,
    (CloudFormationResponse, "create_stack"): _acknowledging("create_stack"),
    (CloudFormationResponse, "update_stack"): _acknowledging("update_stack"),
    (CloudFormationResponse, "create_change_set"): _acknowledging("create_change_set", reviewed=True),
}
