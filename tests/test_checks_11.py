"""Exercises 11.1 (a function that lost access to its secret) and 11.2 (an authorizer for a partner API): the
solution passes, a blank fails without giving the answer away, and plausible wrong answers fail helpfully."""

import json
from pathlib import Path

import boto3
import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

ROOT = Path(__file__).parents[1]
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def solution_lines(notebook: str) -> list[str]:
    """The code lines of a solution notebook's `solution` cells after the marker: what a blank must not reveal."""
    cells = json.loads((ROOT / "solutions" / notebook).read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code" and "solution" in cell["metadata"].get("tags", []):
            source = "".join(cell["source"]).splitlines()
            lines += [line.strip() for line in source[source.index("# solution") + 1:] if len(line.strip()) > 12]
    return lines


# -- exercise 11.1 -----------------------------------------------------------------------------------------

CHARGE = """
import json, os, urllib.error, urllib.request

def handler(event, context):
    request = urllib.request.Request(
        "http://localhost:2773/secretsmanager/get?secretId=prod/payments/api-key",
        headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            key = json.loads(json.loads(answer.read())["SecretString"])["api_key"]
    except urllib.error.HTTPError as error:
        print("secrets extension answered", error.code, error.read().decode())
        raise RuntimeError("could not load the payment provider's API key") from None
    return {"charged": event["amount"], "with_key": key[:7] + "..."}
"""


@pytest.fixture
def payments():
    """The exercise's setup: a secret, a role that may read Parameter Store only, and the function."""
    with lambda_lab.Lab(seed=111, quiet=True) as lab:
        iam, lam, secrets = boto3.client("iam"), boto3.client("lambda"), boto3.client("secretsmanager")
        secret_arn = secrets.create_secret(Name="prod/payments/api-key",
                                           SecretString=json.dumps({"api_key": "pk_live_51HxQ"}))["ARN"]
        role = iam.create_role(RoleName="payments-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        iam.attach_role_policy(RoleName="payments-role",
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        iam.put_role_policy(RoleName="payments-role", PolicyName="read-config", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]}))
        layer = f"arn:aws:lambda:{lab.region}:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12"
        lam.create_function(FunctionName="charge", Runtime="python3.13", Role=role, Handler="app.handler", Timeout=10,
                            Layers=[layer], Code={"ZipFile": lambda_lab.zip_source(CHARGE)})
        yield iam, lam, secret_arn


def grant(iam, actions, resource, name="read-payments-api-key"):
    iam.put_role_policy(RoleName="payments-role", PolicyName=name, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}))


def secret_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_11_secret_access("charge", "prod/payments/api-key")
    return str(failed.value)


def test_secret_solution_passes(payments, capsys):
    iam, _, secret_arn = payments
    grant(iam, "secretsmanager:GetSecretValue", secret_arn)
    checks.ex_11_secret_access("charge", "prod/payments/api-key")
    assert capsys.readouterr().out.startswith("Check passed: 'charge' reads 'prod/payments/api-key'")


def test_secret_blank_fails_without_the_answer(payments):
    message = secret_failure()
    assert message.startswith("'charge' still cannot read its API key. Its log group (/aws/lambda/charge)")
    assert "The Parameters and Secrets extension and its cache" in message  # where to look
    for answer in ["GetSecretValue", "put_role_policy", "SecretsManagerReadWrite"] + solution_lines(
            "11_security_sol_01.ipynb"):
        assert answer not in message, answer


def test_secret_read_write_managed_policy_is_too_much(payments):
    iam, lam, _ = payments
    iam.attach_role_policy(RoleName="payments-role", PolicyArn="arn:aws:iam::aws:policy/SecretsManagerReadWrite")
    assert lam.invoke(FunctionName="charge", Payload=b'{"amount": 1}').get("FunctionError") is None  # it works...
    message = secret_failure()  # ...but is not least privilege
    assert "through the policy 'SecretsManagerReadWrite'" in message and "far more than reading one value" in message


def test_secret_wildcard_resource_is_named(payments):
    iam, _, _ = payments
    grant(iam, "secretsmanager:GetSecretValue", "*")
    assert "lets 'charge' read every secret of the account" in secret_failure()


def test_secret_resource_based_policy_is_the_wrong_side(payments):
    _, lam, _ = payments
    lam.add_permission(FunctionName="charge", StatementId="secrets", Action="lambda:InvokeFunction",
                       Principal="secretsmanager.amazonaws.com")
    message = secret_failure()
    assert "lets Secrets Manager invoke it" in message and "'Two kinds of permission'" in message


def test_secret_removing_the_layer_is_named(payments):
    iam, lam, secret_arn = payments
    grant(iam, "secretsmanager:GetSecretValue", secret_arn)
    lam.update_function_configuration(FunctionName="charge", Layers=[])
    assert "no longer has the AWS Parameters and Secrets Lambda Extension layer" in secret_failure()


# -- exercise 11.2 -----------------------------------------------------------------------------------------

GATE = """
TOKENS = {"partner-token-acme": "acme"}

def handler(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    token = event.get("authorizationToken") or headers.get("authorization")
    tenant = (event.get("queryStringParameters") or {}).get("tenant")
    allowed = tenant is not None and TOKENS.get(token) == tenant
    return {"principalId": tenant or "unknown", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
         "Resource": event["methodArn"].split("/")[0] + "/*"}]}, "context": {"tenant": tenant or ""}}
"""
ORDERS = """
import json
def handler(event, context):
    tenant = (event["requestContext"].get("authorizer") or {}).get("tenant")
    return {"statusCode": 200, "body": json.dumps({"tenant": tenant})}
"""


@pytest.fixture
def partner():
    """The exercise's setup: an open GET /orders on partner-api (stage prod) and the two functions."""
    with lambda_lab.Lab(seed=112, quiet=True) as lab:
        lam, apigw = boto3.client("lambda"), boto3.client("apigateway")
        arn = {name: lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn,
                                         Handler="app.handler",
                                         Code={"ZipFile": lambda_lab.zip_source(source)})["FunctionArn"]
               for name, source in (("partner-gate", GATE), ("partner-orders", ORDERS))}
        api = apigw.create_rest_api(name="partner-api")["id"]
        root = apigw.get_resources(restApiId=api)["items"][0]["id"]
        resource = apigw.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
        setup = {"lab": lab, "lam": lam, "apigw": apigw, "arn": arn, "api": api, "resource": resource,
                 "account": arn["partner-gate"].split(":")[4]}
        put_method(setup, "NONE")
        apigw.create_deployment(restApiId=api, stageName="prod")
        lam.add_permission(FunctionName="partner-orders", StatementId="partner-api", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:{lab.region}:{setup['account']}:{api}/*/GET/orders")
        yield setup


def uri(setup, name):
    return (f"arn:aws:apigateway:{setup['lab'].region}:lambda:path/2015-03-31/functions/{setup['arn'][name]}"
            "/invocations")


def put_method(setup, authorization, authorizer_id=None):
    apigw = setup["apigw"]
    extra = {"authorizerId": authorizer_id} if authorizer_id else {}
    apigw.put_method(restApiId=setup["api"], resourceId=setup["resource"], httpMethod="GET",
                     authorizationType=authorization, **extra)
    apigw.put_integration(restApiId=setup["api"], resourceId=setup["resource"], httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=uri(setup, "partner-orders"))


def protect(setup, kind="REQUEST", sources="method.request.header.Authorization, method.request.querystring.tenant",
            ttl=300, permission=True, deploy=True):
    """The solution, or a variant of it that a learner might write."""
    apigw, api = setup["apigw"], setup["api"]
    options = {} if ttl is None else {"authorizerResultTtlInSeconds": ttl}
    authorizer = apigw.create_authorizer(restApiId=api, name="partner-gate", type=kind, identitySource=sources,
                                         authorizerUri=uri(setup, "partner-gate"), **options)["id"]
    apigw.delete_method(restApiId=api, resourceId=setup["resource"], httpMethod="GET")
    put_method(setup, "CUSTOM", authorizer)
    if permission:
        setup["lam"].add_permission(
            FunctionName="partner-gate", StatementId="authorizer", Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{setup['lab'].region}:{setup['account']}:{api}/authorizers/{authorizer}")
    if deploy:
        apigw.create_deployment(restApiId=api, stageName="prod")


def partner_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_11_partner_authorizer("partner-api", "prod")
    return str(failed.value)


def test_partner_solution_passes(partner, capsys):
    protect(partner)
    checks.ex_11_partner_authorizer("partner-api", "prod")
    assert "caches each decision for 300 s" in capsys.readouterr().out


def test_partner_default_ttl_passes_too(partner, capsys):
    protect(partner, ttl=None)  # authorizerResultTtlInSeconds defaults to 300
    checks.ex_11_partner_authorizer("partner-api", "prod")
    assert capsys.readouterr().out.startswith("Check passed")


def test_partner_blank_fails_without_the_answer(partner):
    message = partner_failure()
    assert message.startswith("GET /orders of 'partner-api' has authorizationType 'NONE'")
    assert "API Gateway Lambda authorizers: TOKEN and REQUEST" in message  # where to look
    for answer in ["REQUEST authorizer", "querystring.tenant", "create_authorizer"] + solution_lines(
            "11_security_sol_02.ipynb"):
        assert answer not in message, answer


def test_partner_token_authorizer_is_not_enough(partner):
    protect(partner, kind="TOKEN", sources="method.request.header.Authorization")
    message = partner_failure()
    assert "is a TOKEN authorizer. It receives one header only" in message


def test_partner_missing_tenant_identity_source(partner):
    protect(partner, sources="method.request.header.Authorization")
    assert "The authorizer's identity sources are 'method.request.header.Authorization'" in partner_failure()


def test_partner_cache_turned_off(partner):
    protect(partner, ttl=0)
    assert "cached for 0 s" in partner_failure()


def test_partner_forgotten_redeploy(partner):
    protect(partner, deploy=False)
    assert "a stage serves the API as it was when it was last deployed" in partner_failure()


def test_partner_forgotten_authorizer_permission(partner):
    protect(partner, permission=False)
    message = partner_failure()
    assert message.startswith("A valid request answered 500") and "May API Gateway invoke 'partner-gate'" in message
