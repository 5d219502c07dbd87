"""GetFunction's Code.Location downloads the version's own package, as AWS's presigned link does, and only it."""

import io
import urllib.error
import urllib.request
import zipfile

import lambda_lab


def _source(location: str) -> bytes:
    with urllib.request.urlopen(location, timeout=10) as answer:
        return zipfile.ZipFile(io.BytesIO(answer.read())).read("app.py")


def _refused(location: str) -> tuple[int, bytes]:
    try:
        urllib.request.urlopen(location, timeout=10)
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    raise AssertionError("the link was served")


def test_each_version_links_its_own_package_and_forged_or_expired_links_are_refused(lab, lam):
    lam.create_function(FunctionName="located", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")}, Publish=True)
    lam.update_function_code(FunctionName="located",
                             ZipFile=lambda_lab.zip_source("def handler(e, c):\n    return 2\n"))
    first = lam.get_function(FunctionName="located", Qualifier="1")["Code"]
    latest = lam.get_function(FunctionName="located")["Code"]
    assert first["RepositoryType"] == "S3"
    assert b"return 1" in _source(first["Location"]) and b"return 2" in _source(latest["Location"])
    forged = latest["Location"].replace("/located/", "/other/")
    assert _refused(forged)[0] == 403
    assert _refused(latest["Location"].split("?")[0])[0] == 403  # no signature at all
    expired = lab._engine.endpoint.code_locations.url(lab.account, lab.region, "located", "1", now=0)
    code, body = _refused(expired)
    assert code == 403 and b"Request has expired" in body
