"""The AWS Parameters and Secrets Lambda Extension: a function whose Layers name AWS's published layer reads
secrets and parameters from http://localhost:2773 with its session token, cached, as its execution role.

Handlers call the extension with plain urllib, as AWS's examples do; roles and policies are made with boto3.
"""

import concurrent.futures
import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from conftest import invoke

# AWS's published layer, per region (the Secrets Manager user guide's list of the extension's ARNs)
PUBLISHER = {"us-east-1": "177933569100", "eu-west-1": "015030872274"}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

READER = """
import json, os, urllib.error, urllib.request
def handler(event, context):
    if event.get("lab_vars"):  # what of the lab's own plumbing a handler can see
        return sorted(k for k in os.environ if k.startswith("_LAMBDA_LAB"))
    token = event.get("token", os.environ["AWS_SESSION_TOKEN"])
    headers = {} if token is None else {"X-Aws-Parameters-Secrets-Token": token}
    url = f"http://{event.get('host', 'localhost')}:{event.get('port', 2773)}{event['path']}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
            return {"status": answer.status, "body": json.loads(answer.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "text": error.read().decode()}
    except urllib.error.URLError as error:
        return {"error": type(error.reason).__name__}
"""


def layer_arn(region, version=12, arm=False):
    return (f"arn:aws:lambda:{region}:{PUBLISHER[region]}:layer:AWS-Parameters-and-Secrets-Lambda-Extension"
            f"{'-Arm64' if arm else ''}:{version}")


@pytest.fixture(scope="module")
def iam(lab):
    return boto3.client("iam")


def role(iam, name, *policies):
    """An execution role with AWS managed policies attached by plain boto3 (any of AWS's, by ARN)."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    for policy in policies:
        iam.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    return arn


@pytest.fixture(scope="module")
def readers(lab, lam, iam):
    """Roles that may read secrets and parameters, and one that may read neither."""
    return {"secrets": role(iam, "reads-secrets", "SecretsManagerReadWrite", "AmazonSSMReadOnlyAccess"),
            "nothing": role(iam, "reads-nothing")}


def extension_function(lam, lab, name, role_arn, layers=None, environment=None):
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(READER)},
                        Layers=[layer_arn(lab.region)] if layers is None else layers,
                        Environment={"Variables": environment or {}})
    return name


def test_a_handler_reads_a_secret_with_its_session_token(lab, lam, readers):
    sm = boto3.client("secretsmanager")
    created = sm.create_secret(Name="prod/db", SecretString='{"password": "s3cret"}')
    name = extension_function(lam, lab, "reads-secret", readers["secrets"])
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Layers"][0]["Arn"] == layer_arn(lab.region)  # stored as named, as AWS does
    _, out, _ = invoke(lam, name, {"path": "/secretsmanager/get?secretId=prod/db"})
    assert out["status"] == 200, out
    body = out["body"]  # GetSecretValue's JSON, as the extension returns it
    assert body["Name"] == "prod/db" and body["ARN"] == created["ARN"]
    assert json.loads(body["SecretString"]) == {"password": "s3cret"}
    assert body["VersionId"] == created["VersionId"] and body["VersionStages"] == ["AWSCURRENT"]
    _, by_arn, _ = invoke(lam, name, {"path": f"/secretsmanager/get?secretId={created['ARN']}"})
    assert by_arn["body"]["SecretString"] == body["SecretString"]
    assert invoke(lam, name, {"lab_vars": True})[1] == []  # the port redirect is the worker's, not the handler's


def test_a_handler_reads_a_secure_parameter_decrypted(lab, lam, readers):
    boto3.client("ssm").put_parameter(Name="/app/api-key", Value="k-123", Type="SecureString")
    name = extension_function(lam, lab, "reads-parameter", readers["secrets"])
    _, out, _ = invoke(lam, name, {"path": "/systemsmanager/parameters/get?name=%2Fapp%2Fapi-key&withDecryption=true"})
    assert out["status"] == 200, out
    assert out["body"]["Parameter"]["Name"] == "/app/api-key"
    assert out["body"]["Parameter"]["Value"] == "k-123" and out["body"]["Parameter"]["Type"] == "SecureString"
    _, sealed, _ = invoke(lam, name, {"path": "/systemsmanager/parameters/get?name=%2Fapp%2Fapi-key"})
    assert sealed["status"] == 200 and sealed["body"]["Parameter"]["Value"] != "k-123"  # not decrypted


def test_version_stages_ids_and_parameter_versions_select_what_is_read(lab, lam, readers):
    sm, ssm = boto3.client("secretsmanager"), boto3.client("ssm")
    first = sm.create_secret(Name="staged", SecretString="old")["VersionId"]
    sm.put_secret_value(SecretId="staged", SecretString="new")
    ssm.put_parameter(Name="colour", Value="red", Type="String")
    ssm.put_parameter(Name="colour", Value="green", Type="String", Overwrite=True)
    name = extension_function(lam, lab, "selects-versions", readers["secrets"])
    read = lambda path: invoke(lam, name, {"path": path})[1]["body"]  # noqa: E731
    assert read("/secretsmanager/get?secretId=staged")["SecretString"] == "new"
    assert read("/secretsmanager/get?secretId=staged&versionStage=AWSPREVIOUS")["SecretString"] == "old"
    assert read(f"/secretsmanager/get?secretId=staged&versionId={first}")["SecretString"] == "old"
    assert read("/systemsmanager/parameters/get?name=colour")["Parameter"]["Value"] == "green"
    assert read("/systemsmanager/parameters/get?name=colour&version=1")["Parameter"]["Value"] == "red"


def test_a_missing_or_wrong_token_is_refused_with_401(lab, lam, readers):
    boto3.client("secretsmanager").create_secret(Name="token-test", SecretString="x")
    name = extension_function(lam, lab, "token-test", readers["secrets"])
    for token in (None, "not-my-session-token", ""):
        _, out, _ = invoke(lam, name, {"path": "/secretsmanager/get?secretId=token-test", "token": token})
        assert out["status"] == 401, (token, out)
        assert "X-Aws-Parameters-Secrets-Token" in out["text"]


def test_answers_are_cached_for_the_ttl(lab, lam, readers):
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="rotating", SecretString="v1")
    cached = extension_function(lam, lab, "caches-300s", readers["secrets"])  # SECRETS_MANAGER_TTL: 300 s
    uncached = extension_function(lam, lab, "caches-never", readers["secrets"],
                                  environment={"SECRETS_MANAGER_TTL": "0"})
    short = extension_function(lam, lab, "caches-1s", readers["secrets"], environment={"SECRETS_MANAGER_TTL": "1"})
    event = {"path": "/secretsmanager/get?secretId=rotating"}
    for name in (cached, uncached, short):
        assert invoke(lam, name, event)[1]["body"]["SecretString"] == "v1"
    sm.put_secret_value(SecretId="rotating", SecretString="v2")
    assert invoke(lam, cached, event)[1]["body"]["SecretString"] == "v1"  # within the TTL: the cached value
    assert invoke(lam, uncached, event)[1]["body"]["SecretString"] == "v2"  # TTL 0: no cache
    lam.update_function_configuration(FunctionName=cached, Environment={"Variables": {"STAGE": "2"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=cached)
    assert invoke(lam, cached, event)[1]["body"]["SecretString"] == "v2"  # a new environment: an empty cache
    deadline = time.monotonic() + 30
    while invoke(lam, short, event)[1]["body"]["SecretString"] != "v2":  # refreshed once its second is up
        assert time.monotonic() < deadline, "the 1 s cache entry never expired"
        time.sleep(0.2)


def test_a_role_without_permission_gets_the_access_denied_the_extension_relays(lab, lam, readers):
    boto3.client("secretsmanager").create_secret(Name="guarded", SecretString="x")
    boto3.client("ssm").put_parameter(Name="guarded-param", Value="y", Type="String")
    name = extension_function(lam, lab, "reads-nothing", readers["nothing"])
    _, secret, _ = invoke(lam, name, {"path": "/secretsmanager/get?secretId=guarded"})
    assert secret["status"] == 400, secret
    assert "AccessDeniedException" in secret["text"]
    assert (f"assumed-role/reads-nothing/{name} is not authorized to perform: secretsmanager:GetSecretValue"
            in secret["text"])
    _, parameter, _ = invoke(lam, name, {"path": "/systemsmanager/parameters/get?name=guarded-param"})
    assert parameter["status"] == 400 and "ssm:GetParameter" in parameter["text"], parameter


def test_a_missing_secret_is_the_services_own_error(lab, lam, readers):
    name = extension_function(lam, lab, "reads-missing", readers["secrets"])
    _, out, _ = invoke(lam, name, {"path": "/secretsmanager/get?secretId=no-such-secret"})
    assert out["status"] == 400 and "ResourceNotFoundException" in out["text"], out


def test_without_the_layer_nothing_listens_on_2773(lab, lam, readers):
    name = extension_function(lam, lab, "no-extension", readers["secrets"], layers=[])
    for host in ("localhost", "127.0.0.1"):
        _, out, _ = invoke(lam, name, {"path": "/secretsmanager/get?secretId=prod/db", "host": host})
        assert out == {"error": "ConnectionRefusedError"}, out


def test_the_port_follows_parameters_secrets_extension_http_port(lab, lam, readers):
    boto3.client("secretsmanager").create_secret(Name="on-2775", SecretString="here")
    name = extension_function(lam, lab, "port-2775", readers["secrets"],
                              environment={"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2775"})
    _, out, _ = invoke(lam, name, {"path": "/secretsmanager/get?secretId=on-2775", "port": 2775})
    assert out["status"] == 200 and out["body"]["SecretString"] == "here", out
    _, default, _ = invoke(lam, name, {"path": "/secretsmanager/get?secretId=on-2775"})
    assert default == {"error": "ConnectionRefusedError"}


def test_concurrent_environments_each_get_their_own_answers(lab, lam, readers):
    boto3.client("secretsmanager").create_secret(Name="shared", SecretString="for-readers")
    allowed = extension_function(lam, lab, "concurrent-allowed", readers["secrets"])
    denied = extension_function(lam, lab, "concurrent-denied", readers["nothing"])
    event = {"path": "/secretsmanager/get?secretId=shared"}
    client = boto3.client("lambda")
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        outs = list(pool.map(lambda n: (n, invoke(client, n, event)[1]), [allowed, denied] * 3))
    for name, out in outs:
        if name == allowed:
            assert out["status"] == 200 and out["body"]["SecretString"] == "for-readers", out
        else:
            assert out["status"] == 400 and "AccessDeniedException" in out["text"], out
    assert len(lab.environments(allowed)) >= 1 and len(lab.environments(denied)) >= 1


def test_only_aws_published_layer_arns_are_the_extension(lab, lam, readers):
    arm = extension_function(lam, lab, "arm-extension", readers["secrets"], layers=[layer_arn(lab.region, 4, True)])
    assert lam.get_function(FunctionName=arm)["Configuration"]["Layers"][0]["Arn"].endswith("-Arm64:4")
    boto3.client("secretsmanager").create_secret(Name="arm-secret", SecretString="arm")
    assert invoke(lam, arm, {"path": "/secretsmanager/get?secretId=arm-secret"})[1]["body"]["SecretString"] == "arm"
    other = "eu-west-1" if lab.region != "eu-west-1" else "us-east-1"
    forged = layer_arn(lab.region).replace(PUBLISHER[lab.region], "111122223333")
    for wrong in (forged, layer_arn(other)):  # another account's or another region's layer: not AWS's here
        with pytest.raises(ClientError) as refused:
            extension_function(lam, lab, "wrong-layer", readers["secrets"], layers=[wrong])
        assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_adding_the_layer_later_serves_new_environments(lab, lam, readers):
    boto3.client("secretsmanager").create_secret(Name="later", SecretString="now")
    name = extension_function(lam, lab, "layer-later", readers["secrets"], layers=[])
    event = {"path": "/secretsmanager/get?secretId=later"}
    assert invoke(lam, name, event)[1] == {"error": "ConnectionRefusedError"}
    lam.update_function_configuration(FunctionName=name, Layers=[layer_arn(lab.region)])
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert invoke(lam, name, event)[1]["body"]["SecretString"] == "now"


NODE_READER = """
import http from 'node:http';
const token = process.env.AWS_SESSION_TOKEN;
const viaHttp = (path) => new Promise((resolve, reject) => {
  http.get({ host: 'localhost', port: 2773, path, headers: { 'X-Aws-Parameters-Secrets-Token': token } }, (res) => {
    let body = '';
    res.on('data', (chunk) => { body += chunk; });
    res.on('end', () => resolve({ status: res.statusCode, body }));
  }).on('error', reject);
});
export const handler = async (event) => {
  const fetched = await fetch(`http://localhost:2773${event.path}`,
                              { headers: { 'X-Aws-Parameters-Secrets-Token': token } });
  const got = await viaHttp(event.path);
  return { fetch: { status: fetched.status, body: await fetched.json() },
           http: { ...got, body: JSON.parse(got.body) } };
};
"""


def test_a_node_handler_reads_a_secret_with_fetch_and_http(lab, lam, readers):
    from test_node import need_node

    need_node()
    boto3.client("secretsmanager").create_secret(Name="node-secret", SecretString="from-node")
    lam.create_function(FunctionName="node-reader", Runtime="nodejs22.x", Role=readers["secrets"],
                        Handler="index.handler", Code={"ZipFile": lambda_lab.zip_source({"index.mjs": NODE_READER})},
                        Layers=[layer_arn(lab.region)])
    _, out, _ = invoke(lam, "node-reader", {"path": "/secretsmanager/get?secretId=node-secret"})
    assert out["fetch"]["status"] == 200 and out["fetch"]["body"]["SecretString"] == "from-node", out
    assert out["http"]["status"] == 200 and out["http"]["body"]["SecretString"] == "from-node", out


def test_the_extension_arn_names_each_regions_publisher():
    import doctest

    from lambda_lab import packaging
    from lambda_lab.packaging import secrets_extension_arn

    finder = doctest.DocTestFinder()
    [example] = finder.find(packaging.secrets_extension_arn, "secrets_extension_arn",
                            globs={"secrets_extension_arn": secrets_extension_arn})
    assert doctest.DocTestRunner().run(example).failed == 0
    assert secrets_extension_arn("us-east-1", 12, arm64=True) == (
        "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12")
    assert secrets_extension_arn("cn-north-1", 3).startswith("arn:aws-cn:lambda:cn-north-1:287114880934:")
    with pytest.raises(ValueError, match="no Parameters and Secrets extension layer in 'mars-1'"):
        secrets_extension_arn("mars-1", 12)
