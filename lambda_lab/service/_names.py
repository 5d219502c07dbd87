"""Function references as the Invoke API accepts them: a name, `name:qualifier`, a partial or full ARN."""

import re

from ._errors import invalid

_FULL_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:(\d{12}):function:([a-zA-Z0-9_-]+)(?::([^:]+))?$")
_PARTIAL_ARN = re.compile(r"^(\d{12}):function:([a-zA-Z0-9_-]+)(?::([^:]+))?$")
_NAME = re.compile(r"^([a-zA-Z0-9_-]+)(?::([^:]+))?$")


def split_function_ref(ref: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """Return (function name, qualifier); a qualifier in the name must agree with the parameter.

    >>> split_function_ref("arn:aws:lambda:us-east-1:123456789012:function:fn:live")
    ('fn', 'live')
    """
    match = _FULL_ARN.match(ref) or _PARTIAL_ARN.match(ref)
    if match:
        name, derived = match.group(2), match.group(3)
    else:
        match = _NAME.match(ref)
        if not match:
            raise invalid(f"Invalid function name or ARN: '{ref}'. Use a name such as 'my-function', "
                          "'my-function:alias', or an ARN.")
        name, derived = match.group(1), match.group(2)
    if derived and qualifier and derived != qualifier:
        raise invalid("The derived qualifier from the function name does not match the specified qualifier.")
    return name, derived or qualifier
