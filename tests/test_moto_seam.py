"""The moto internals the bridge relies on are still where it expects them (moto is pinned for this)."""

import inspect
from importlib.metadata import version

from moto.awslambda.models import LambdaAlias, LambdaBackend, LambdaFunction, LambdaStorage
from moto.awslambda.responses import LambdaResponse
from moto.logs.models import LogGroup

from lambda_lab.service import _moto as bridge


def test_moto_is_the_pinned_version():
    assert version("moto") == bridge.MOTO_VERSION


def test_patched_methods_exist_with_the_expected_signatures():
    for (owner, attr) in bridge.PATCHED:
        assert callable(getattr(owner, attr)), (owner, attr)
    assert list(inspect.signature(LambdaBackend.invoke).parameters) == [
        "self", "function_name", "qualifier", "body", "headers", "response_headers"]
    assert list(inspect.signature(LambdaFunction.invoke).parameters) == [
        "self", "body", "request_headers", "response_headers"]


def test_records_the_bridge_reads():
    storage = inspect.getsource(LambdaStorage)
    for needle in ('self._functions[fn.function_name] = {"latest": fn, "versions": []}', "def _get_version",
                   "self._aliases: dict[str, dict[str, LambdaAlias]]"):
        assert needle in storage, needle
    function = inspect.getsource(LambdaFunction)
    for attribute in ("self.code_bytes", "self.code_digest", "self.reserved_concurrency", "self.environment_vars",
                      "self.memory_size", "self.timeout", "self.ephemeral_storage", "self.package_type"):
        assert attribute in function, attribute
    assert "self.routing_config = routing_config" in inspect.getsource(LambdaAlias)
    assert "def put_log_events" in inspect.getsource(LogGroup)
    assert "def _get_action" in inspect.getsource(LambdaResponse.__mro__[1])


def test_install_and_uninstall_restore_moto_exactly():
    before = {key: key[0].__dict__.get(key[1]) for key in bridge.PATCHED}
    from lambda_lab.runtime import Runtime
    from lambda_lab.service import LambdaService

    runtime = Runtime()
    bridge.install(LambdaService(runtime))
    assert all(key[0].__dict__.get(key[1]) is not before[key] for key in bridge.PATCHED)
    bridge.uninstall()
    runtime.stop()
    assert {key: key[0].__dict__.get(key[1]) for key in bridge.PATCHED} == before
