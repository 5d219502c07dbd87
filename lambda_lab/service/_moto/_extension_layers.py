"""Layers AWS publishes from its own accounts: moto knows only the account's own layers and refuses the rest.

A function may name the AWS Parameters and Secrets Lambda Extension's layer (any version, in the function's
region); the lab stores it as AWS does and serves the extension itself (see .._secrets_extension).
"""

from __future__ import annotations

from moto.awslambda.models import LambdaFunction

from .._secrets_extension import extension_layer

_moto_layers_data = LambdaFunction._get_layers_data


def _get_layers_data(self: LambdaFunction, layers_versions_arns: list[str]) -> list:
    """Moto's layer records for the account's own layers; AWS's published extension layers as they are named."""
    arns = list(layers_versions_arns or [])
    own = iter(_moto_layers_data(self, [a for a in arns if extension_layer(a, self.region) is None]))
    # CodeSize: the lab has no copy of AWS's layer to measure; 0 says so rather than inventing a figure
    return [{"Arn": a, "CodeSize": 0} if extension_layer(a, self.region) else next(own) for a in arns]


def extensions_of(fn: LambdaFunction) -> tuple[str, ...]:
    """The AWS-published extensions among a function version's layers."""
    found = (extension_layer(layer["Arn"], fn.region) for layer in fn.layers or ())
    return tuple(sorted({e for e in found if e}))


PATCHES = {(LambdaFunction, "_get_layers_data"): _get_layers_data}
