"""Deployment packages checked at upload, as Lambda does: a real zip, within 250 MB unzipped with its layers.

The zips come from the request (ZipFile, base64 in the JSON body), from moto's S3 (S3Bucket/S3Key) and
from moto's records (a function's current code, its layer versions); the rules are in _validation.py.
"""

from __future__ import annotations

import base64
import binascii

from moto.awslambda.models import LambdaBackend

from .._names import split_function_ref
from .._validation import check_unzipped_size, unzipped_size


def check_packages(backend: LambdaBackend, action: str, params: dict) -> None:
    """Refuse what Lambda refuses at upload; anything this cannot find (a missing object) is left to moto."""
    if action == "PublishLayerVersion":
        found = _upload(backend, params.get("Content") or {}, "Content")
        if found is not None:
            check_unzipped_size(unzipped_size(*found))
    elif action == "CreateFunction" and params.get("PackageType", "Zip") == "Zip":
        found = _upload(backend, params.get("Code") or {}, "Code")
        if found is not None:
            check_unzipped_size(unzipped_size(*found), _layers_size(backend, params.get("Layers") or []))
    elif action == "UpdateFunctionCode":
        found = _upload(backend, params, "")
        latest = _latest(backend, params)
        if found is not None:
            layers = [layer["Arn"] for layer in (latest.layers or [])] if latest is not None else []
            check_unzipped_size(unzipped_size(*found), _layers_size(backend, layers))
    elif action == "UpdateFunctionConfiguration" and params.get("Layers"):
        latest = _latest(backend, params)
        if latest is not None and latest.package_type == "Zip" and latest.code_bytes:
            code = unzipped_size(latest.code_bytes, "the function's code")
            check_unzipped_size(code, _layers_size(backend, params["Layers"]))


def _upload(backend: LambdaBackend, code: dict, where: str) -> tuple[bytes, str] | None:
    """The uploaded zip and the argument that named it, or None when there is none to check."""
    prefix = f"{where}." if where else ""
    if code.get("ZipFile") is not None:
        try:
            return base64.b64decode(code["ZipFile"], validate=False), f"{prefix}ZipFile"
        except (binascii.Error, ValueError, TypeError):
            return b"", f"{prefix}ZipFile"
    if code.get("S3Bucket") and code.get("S3Key"):
        from moto.s3.models import s3_backends

        try:
            key = s3_backends[backend.account_id]["aws"].get_object(code["S3Bucket"], code["S3Key"])
        except Exception:  # no such bucket or key: moto answers as AWS does
            return None
        if key is None:
            return None
        return key.value, f"the object s3://{code['S3Bucket']}/{code['S3Key']} ({prefix}S3Key)"
    return None


def _latest(backend: LambdaBackend, params: dict):
    record = backend._lambdas._functions.get(split_function_ref(params.get("FunctionName", ""))[0])
    return record["latest"] if record else None


def _layers_size(backend: LambdaBackend, arns: list) -> int:
    """The layers' unzipped size; a layer that does not exist counts nothing (moto refuses it itself)."""
    total = 0
    for arn in arns:
        version = backend.layers_versions_by_arn(arn if isinstance(arn, str) else arn.get("Arn", ""))
        if version is not None and version.code_bytes:
            total += unzipped_size(version.code_bytes, f"layer {version.arn}")
    return total


def read_package(account: str, region: str, name: str, version: str) -> bytes | None:
    """One version's deployment package as uploaded (GetFunction's Code.Location serves it), or None."""
    from moto.awslambda.utils import get_backend

    storage = get_backend(account, region)._lambdas
    record = storage._functions.get(name)
    if not record:
        return None
    fn = record["latest"] if version == "$LATEST" else storage._get_version(name, version)
    return getattr(fn, "code_bytes", None) or None
