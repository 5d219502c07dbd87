"""Gives Lambda its semantics over moto's records: qualifiers, aliases, validation, concurrency, the endpoint."""

from ._moto import (MOTO_VERSION, aws_managed_policy_arn, install as attach, provide_managed_policies, role_documents,
                    uninstall as detach, warm_imports, write_log)
from ._botocore_models import share_loaders
from ._credentials import ExecutionCredentials
from ._endpoint import LoopbackEndpoint, generate_credentials
from ._errors import ServiceError
from ._invoke import Invocation, LambdaService
from ._secrets_extension import SecretsExtension

__all__ = ["MOTO_VERSION", "attach", "detach", "provide_managed_policies", "warm_imports", "write_log", "LoopbackEndpoint",
           "ExecutionCredentials", "generate_credentials", "ServiceError", "Invocation", "LambdaService",
           "SecretsExtension", "role_documents", "aws_managed_policy_arn", "share_loaders"]
