"""Checks for the exercises of notebook 11_security."""

import fnmatch
import json

import boto3
from botocore.exceptions import ClientError

from . import CheckFailed, function_config, passed, require

__all__ = ["ex_11_secret_access", "ex_11_partner_authorizer"]

EXTENSION_LAYER = "AWS-Parameters-and-Secrets-Lambda-Extension"
WRITES = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret",
          "secretsmanager:CreateSecret", "secretsmanager:RotateSecret")  # what reading a secret never needs
SECTION_SECRETS = "notebook 11, 'The Parameters and Secrets extension and its cache'"
SECTION_AUTHORIZERS = "notebook 11, 'API Gateway Lambda authorizers: TOKEN and REQUEST'"


def _role_documents(iam, role_name: str) -> list[tuple[str, dict]]:
    """(policy name, document) for each inline and attached policy of a role, read with boto3's IAM client."""
    documents = [(name, iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
                 for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
        documents.append((attached["PolicyName"], document["Document"]))
    return [(name, json.loads(d) if isinstance(d, str) else d) for name, d in documents]


def _grants(documents: list[tuple[str, dict]], action: str) -> list[tuple[str, list[str]]]:
    """(policy name, resources) of every Allow statement whose actions cover `action`."""
    found = []
    for name, document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if statement.get("Effect") == "Allow" and any(fnmatch.fnmatchcase(action.lower(), a.lower())
                                                          for a in actions):
                resources = statement.get("Resource", [])
                found.append((name, [resources] if isinstance(resources, str) else list(resources)))
    return found


def ex_11_secret_access(function_name: str = "charge", secret_id: str = "prod/payments/api-key") -> None:
    """Exercise 11.1: the function reads its API key through the extension, and its role may read only that."""
    lam, iam = boto3.client("lambda"), boto3.client("iam")
    config = function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    layers = [layer["Arn"] for layer in config.get("Layers", [])]
    require(any(EXTENSION_LAYER in arn for arn in layers),
            f"'{function_name}' no longer has the AWS Parameters and Secrets Lambda Extension layer, which its code "
            "reads the key through. Keep the function as it was and change only what it is allowed to do.")
    try:
        secret_arn = boto3.client("secretsmanager").describe_secret(SecretId=secret_id)["ARN"]
    except ClientError as error:
        raise CheckFailed(f"The secret '{secret_id}' cannot be read ({error}). Run the setup cell again.") from None
    role_name = config["Role"].split("/")[-1]
    documents = _role_documents(iam, role_name)

    broad = [(name, action) for action in WRITES for name, _ in _grants(documents, action)]
    if broad:
        policy, action = broad[0]
        require(False, f"'{function_name}' can now call {action.split(':')[1]} (through the policy '{policy}'), and "
                       "more: far more than reading one value. The role should be able to do exactly what the "
                       f"extension does for this function, on this secret only ({SECTION_SECRETS}, and 'Least "
                       "privilege: build a policy, watch the refusal, fix it').")
    reads = _grants(documents, "secretsmanager:GetSecretValue")
    if not reads:
        policy = json.loads(_policy_text(lam, function_name) or "{}")
        pushes = [s for s in policy.get("Statement", []) if "secretsmanager" in json.dumps(s.get("Principal"))]
        require(not pushes, f"The resource-based policy of '{function_name}' now lets Secrets Manager invoke it. "
                            "But here the function calls Secrets Manager, not the other way round: which of the two "
                            "permission documents governs what the function may call? Notebook 11, 'Two kinds of "
                            "permission'.")
        require(False, f"'{function_name}' still cannot read its API key. Its log group (/aws/lambda/{function_name}) "
                       "shows what the extension answered and for which identity it asked; "
                       f"{SECTION_SECRETS} says whose permissions the extension uses.")
    loose = [(name, r) for name, resources in reads for r in resources
             if not r.startswith(secret_arn.rsplit("-", 1)[0])]
    if loose:
        name, resource = loose[0]
        what = "every secret of the account" if resource in ("*", "arn:aws:secretsmanager:*") else repr(resource)
        require(False, f"The policy '{name}' lets '{function_name}' read {what}, not only '{secret_id}'. Least "
                       "privilege names the one resource the function needs: the secret's ARN (describe_secret "
                       "tells it).")

    response = lam.invoke(FunctionName=function_name, Payload=json.dumps({"amount": 5}).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    require("FunctionError" not in response,
            f"'{function_name}' still fails: {payload.get('errorType')}: {payload.get('errorMessage')}. Its log group "
            f"shows the extension's answer. A new permission reaches the next request; if you changed the code, "
            "run the setup cell again.")
    passed(f"'{function_name}' reads '{secret_id}' through the extension, and its role may read that secret only.")


def _policy_text(lam, function_name: str) -> str | None:
    try:
        return lam.get_policy(FunctionName=function_name)["Policy"]
    except lam.exceptions.ResourceNotFoundException:
        return None


# -- exercise 11.2: a REQUEST authorizer for a partner API -----------------------------------------------------

VALID = {"Authorization": "partner-token-acme"}  # the token and tenant the exercise's authorizer accepts
TENANT = "acme"


def _api(apigw, name: str) -> str:
    for api in apigw.get_rest_apis()["items"]:
        if api["name"] == name:
            return api["id"]
    raise CheckFailed(f"There is no REST API called '{name}': run the exercise's setup cell first.")


def _runs(function_name: str) -> int | None:
    """How often the local lab ran `function_name` so far (None on AWS, where the check cannot count)."""
    from .. import Lab

    lab = Lab.current()
    if lab is None or lab.backend != "local":
        return None
    return sum(1 for i in lab.invocations if i.function_name == function_name)


def ex_11_partner_authorizer(api_name: str = "partner-api", stage: str = "prod", path: str = "/orders",
                             authorizer_function: str = "partner-gate", backend_function: str = "partner-orders") -> None:
    """Exercise 11.2: only a valid token with a tenant gets through; incomplete requests never run a function."""
    import requests

    from .. import Lab

    apigw = boto3.client("apigateway")
    api_id = _api(apigw, api_name)
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    require(path in resources and "GET" in resources[path].get("resourceMethods", {}),
            f"'{api_name}' has no GET {path} method any more. Run the setup cell again; then protect that method.")
    method = apigw.get_method(restApiId=api_id, resourceId=resources[path]["id"], httpMethod="GET")
    require(method.get("authorizationType") == "CUSTOM" and method.get("authorizerId"),
            f"GET {path} of '{api_name}' has authorizationType {method.get('authorizationType')!r}: API Gateway calls "
            f"'{backend_function}' for anyone (requirement 1). Which kind of authorizer can see everything "
            f"requirement 2 names? {SECTION_AUTHORIZERS}.")
    authorizer = apigw.get_authorizer(restApiId=api_id, authorizerId=method["authorizerId"])
    sources = [s.strip().lower() for s in authorizer.get("identitySource", "").split(",") if s.strip()]
    require(authorizer["type"] == "REQUEST",
            f"The authorizer '{authorizer['name']}' is a {authorizer['type']} authorizer. It receives one header only, "
            "so a request without a tenant still reaches it and runs a function (requirement 2), and its cache "
            f"cannot tell two tenants apart. {SECTION_AUTHORIZERS}.")
    missing = [s for s in ("method.request.header.authorization", "method.request.querystring.tenant")
               if s not in sources]
    require(not missing, f"The authorizer's identity sources are {authorizer.get('identitySource')!r}. A request "
                         "without the token or without the tenant must be refused before any function runs "
                         "(requirement 2): API Gateway does that only for the values it is told to look for.")
    ttl = authorizer.get("authorizerResultTtlInSeconds", 300)
    require(ttl >= 300, f"The authorizer's results are cached for {ttl} s, so '{authorizer_function}' runs more "
                        "often than once per five minutes for the same caller (requirement 3).")

    lab = Lab.current()
    base = lab.rest_api_url(api_id, stage) if lab is not None else \
        f"https://{api_id}.execute-api.{boto3.session.Session().region_name}.amazonaws.com/{stage}"
    url = base + path
    before = (_runs(authorizer_function), _runs(backend_function))
    bare = requests.get(url, timeout=30)
    if bare.status_code == 200:
        require(False, f"GET {path} without a token still answers 200 on the '{stage}' stage, although the method "
                       "now has an authorizer: a stage serves the API as it was when it was last deployed.")
    no_tenant = requests.get(url, headers=VALID, timeout=30)
    require(bare.status_code == 401 and no_tenant.status_code == 401,
            f"Requests without a token or without a tenant answered {bare.status_code} and {no_tenant.status_code}; "
            "API Gateway answers 401 for them when the identity sources are missing.")
    after = (_runs(authorizer_function), _runs(backend_function))
    require(before == after, "A request without a token or tenant ran a function: requirement 2 says it must not.")

    good = requests.get(url, params={"tenant": TENANT}, headers=VALID, timeout=30)
    if good.status_code == 500:
        require(False, f"A valid request answered 500 ({good.headers.get('x-amzn-ErrorType', 'no error type')}): API "
                       f"Gateway could not get an answer from the authorizer. May API Gateway invoke "
                       f"'{authorizer_function}' for this authorizer? Compare with what the setup cell did for "
                       f"'{backend_function}' ({SECTION_AUTHORIZERS}).")
    require(good.status_code == 200, f"A valid token with tenant '{TENANT}' answered {good.status_code}: {good.text}")
    seen = good.json()
    require(seen.get("tenant") == TENANT, f"'{backend_function}' did not get the authorizer's context: {seen}.")
    wrong = requests.get(url, params={"tenant": "globex"}, headers=VALID, timeout=30)
    require(wrong.status_code == 403, f"The ACME token asking for tenant 'globex' answered {wrong.status_code}, not 403.")
    repeat = _runs(authorizer_function)
    requests.get(url, params={"tenant": TENANT}, headers=VALID, timeout=30)
    require(repeat is None or _runs(authorizer_function) == repeat,
            f"A second identical request ran '{authorizer_function}' again: its result was not cached (requirement 3).")
    passed(f"GET {path} of '{api_name}' needs a token and a tenant (401 without them, no function run), refuses a "
           f"token for another tenant (403), and caches each decision for {ttl} s.")
