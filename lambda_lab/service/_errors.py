"""Errors the Lambda API answers with: an AWS error code, an HTTP status and a message that helps."""


class ServiceError(Exception):
    """An API error as AWS returns it; `fields` are extra members of the error body (e.g. `Reason`)."""

    def __init__(self, code: str, message: str, status: int = 400, **fields) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields

    def body(self) -> dict:
        return {"Type": "User", "message": self.message, **self.fields}


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message)


def not_found(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Function not found: {arn}", 404)
