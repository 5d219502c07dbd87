"""Shared state of the moto bridge: the service moto's Lambda now answers to, and what was replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._invoke import LambdaService

service: LambdaService | None = None
originals: dict = {}
