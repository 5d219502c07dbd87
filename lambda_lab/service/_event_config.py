"""Asynchronous invocation settings per function and qualifier (Put replaces, Update merges), as AWS keeps them."""

from __future__ import annotations

import threading
import time

from ._errors import ServiceError, invalid

_KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
_DESTINATION_SERVICES = {"OnSuccess": ("sqs", "sns", "lambda", "events"),
                         "OnFailure": ("sqs", "sns", "lambda", "events", "s3")}


class EventConfigStore:
    def __init__(self) -> None:
        self._configs: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()

    def put(self, function_arn: str, name: str, qualifier: str | None, request: dict, merge: bool) -> dict:
        """PutFunctionEventInvokeConfig (merge=False) or UpdateFunctionEventInvokeConfig (merge=True)."""
        key = (name, qualifier or "$LATEST")
        given = {k: request[k] for k in _KEYS if request.get(k) is not None}
        for kind, destination in (given.get("DestinationConfig") or {}).items():
            arn = (destination or {}).get("Destination")
            if arn and (arn.count(":") < 5 or arn.split(":")[2] not in _DESTINATION_SERVICES.get(kind, ())):
                allowed = ", ".join(_DESTINATION_SERVICES.get(kind, ()))
                raise invalid(f"The destination ARN {arn} is invalid: an {kind} destination must be one of: "
                              f"{allowed}.")
        with self._lock:
            if merge:
                if key not in self._configs:
                    raise self._missing(function_arn, key[1])
                merged = dict(self._configs[key])
                merged.update(given)
                given = merged
            given["LastModified"] = time.time()
            given["FunctionArn"] = f"{function_arn}:{key[1]}"
            self._configs[key] = given
            return self._response(given)

    def get(self, function_arn: str, name: str, qualifier: str | None) -> dict:
        with self._lock:
            config = self._configs.get((name, qualifier or "$LATEST"))
        if config is None:
            raise self._missing(function_arn, qualifier or "$LATEST")
        return self._response(config)

    def delete(self, function_arn: str, name: str, qualifier: str | None) -> None:
        with self._lock:
            if self._configs.pop((name, qualifier or "$LATEST"), None) is None:
                raise self._missing(function_arn, qualifier or "$LATEST")

    def list(self, name: str) -> list[dict]:
        with self._lock:
            return [self._response(c) for (n, _), c in sorted(self._configs.items()) if n == name]

    def forget(self, name: str) -> None:
        with self._lock:
            for key in [k for k in self._configs if k[0] == name]:
                del self._configs[key]

    def effective(self, name: str, qualifier: str | None) -> dict:
        """The settings an async event of this function and qualifier runs with ({} means defaults)."""
        with self._lock:
            return dict(self._configs.get((name, qualifier or "$LATEST"), {}))

    @staticmethod
    def _response(config: dict) -> dict:
        response = {k: v for k, v in config.items()}
        destinations = response.setdefault("DestinationConfig", {})
        destinations.setdefault("OnSuccess", {})
        destinations.setdefault("OnFailure", {})
        return response

    @staticmethod
    def _missing(function_arn: str, qualifier: str) -> ServiceError:
        return ServiceError("ResourceNotFoundException",
                            f"The function {function_arn}:{qualifier} doesn't have an EventInvokeConfig", 404)
