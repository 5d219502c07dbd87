"""The API's rules as Lambda answers them: RevisionIds and preconditions, every name form in every action, alias and
version conflicts, KMS keys on the configuration, and GetAccountSettings (plain boto3 against the lab)."""

import base64
import hashlib

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"
OTHER_SOURCE = "def handler(event, context):\n    return {'ok': False}\n"
STALE_FUNCTION = ("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
                  "to retrieve the latest Revision Id")
STALE_POLICY = ("The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve "
                "the latest Revision Id")
CREATE_GRANT = ("Lambda was unable to configure access to your environment variables because the KMS key is invalid "
                "for CreateGrant. Please check your KMS key settings. KMS Exception: ")
ACCOUNT = "123456789012"  # moto's default account, which the local lab uses
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def refused(call, code, message, status=None):
    """Run `call`, expecting AWS's error `code` with exactly `message`."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (code, message)
    if status is not None:
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    return caught.value


def revision(lam, name, qualifier=None):
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    return lam.get_function_configuration(FunctionName=name, **kwargs)["RevisionId"]


# -- RevisionId ----------------------------------------------------------------------------------
def test_every_function_version_and_alias_response_carries_a_revision_id_that_moves_on_each_change(lam, make_function):
    import re

    name = make_function(SOURCE)
    first = revision(lam, name)
    assert re.match(UUID, first)
    assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == first

    updated = lam.update_function_configuration(FunctionName=name, Timeout=5)["RevisionId"]
    assert updated != first and revision(lam, name) == updated
    coded = lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(OTHER_SOURCE))["RevisionId"]
    assert coded != updated and revision(lam, name) == coded

    published = lam.publish_version(FunctionName=name)
    assert published["RevisionId"] not in (coded, revision(lam, name))  # a version has its own
    assert revision(lam, name) != coded  # and publishing moves $LATEST's on, as AWS does
    assert revision(lam, name, "1") == published["RevisionId"]
    assert lam.list_versions_by_function(FunctionName=name)["Versions"][1]["RevisionId"] == published["RevisionId"]

    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert re.match(UUID, alias["RevisionId"])
    assert lam.get_alias(FunctionName=name, Name="live")["RevisionId"] == alias["RevisionId"]
    moved = lam.update_alias(FunctionName=name, Name="live", Description="moved")
    assert moved["RevisionId"] != alias["RevisionId"]
    assert lam.get_alias(FunctionName=name, Name="live")["RevisionId"] == moved["RevisionId"]


def test_a_policy_carries_its_function_versions_revision_id_and_a_permission_change_moves_it(lam, make_function):
    name = make_function(SOURCE)
    before = revision(lam, name)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", RevisionId=before)
    policy = lam.get_policy(FunctionName=name)
    assert policy["RevisionId"] == revision(lam, name) != before
    lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId=policy["RevisionId"])
    assert revision(lam, name) != policy["RevisionId"]


@pytest.mark.parametrize("action", ["update_function_configuration", "update_function_code", "publish_version"])
def test_a_stale_revision_id_is_refused_with_precondition_failed(lam, make_function, action):
    name = make_function(SOURCE)
    stale = revision(lam, name)
    lam.update_function_configuration(FunctionName=name, Description="someone else's edit")
    arguments = {"update_function_configuration": {"Timeout": 9},
                 "update_function_code": {"ZipFile": lambda_lab.zip_source(OTHER_SOURCE)},
                 "publish_version": {}}[action]
    refused(lambda: getattr(lam, action)(FunctionName=name, RevisionId=stale, **arguments),
            "PreconditionFailedException", STALE_FUNCTION, 412)
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 3  # nothing changed
    getattr(lam, action)(FunctionName=name, RevisionId=revision(lam, name), **arguments)  # the current one passes


def test_update_alias_refuses_a_stale_revision_id(lam, make_function):
    name = make_function(SOURCE)
    lam.publish_version(FunctionName=name)
    stale = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")["RevisionId"]
    current = lam.update_alias(FunctionName=name, Name="live", Description="first edit")["RevisionId"]
    refused(lambda: lam.update_alias(FunctionName=name, Name="live", Description="second", RevisionId=stale),
            "PreconditionFailedException", STALE_FUNCTION, 412)
    assert lam.update_alias(FunctionName=name, Name="live", Description="second", RevisionId=current)


def test_add_and_remove_permission_refuse_a_stale_revision_id(lam, make_function):
    name = make_function(SOURCE)
    stale = revision(lam, name)
    lam.update_function_configuration(FunctionName=name, Description="edit")
    refused(lambda: lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                                       Principal="s3.amazonaws.com", RevisionId=stale),
            "PreconditionFailedException", STALE_POLICY, 412)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", RevisionId=revision(lam, name))
    refused(lambda: lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId=stale),
            "PreconditionFailedException", STALE_POLICY, 412)
    lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId=revision(lam, name))


def test_permission_errors_name_what_is_wrong(lam, make_function):
    name = make_function(SOURCE)
    refused(lambda: lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                                       Principal="s3.amazonaws.com", Qualifier="$LATEST"),
            "InvalidParameterValueException", "We currently do not support adding policies for $LATEST.", 400)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    refused(lambda: lam.remove_permission(FunctionName=name, StatementId="sns"), "ResourceNotFoundException",
            "Statement sns is not found in resource policy.", 404)
    lam.remove_permission(FunctionName=name, StatementId="s3")
    refused(lambda: lam.remove_permission(FunctionName=name, StatementId="s3"), "ResourceNotFoundException",
            "No policy is associated with the given resource.", 404)


# -- PublishVersion's CodeSha256 -----------------------------------------------------------------
def test_publish_version_refuses_a_code_sha256_other_than_latests(lam, make_function):
    name = make_function(SOURCE)
    current = lam.get_function_configuration(FunctionName=name)["CodeSha256"]
    other = base64.b64encode(hashlib.sha256(lambda_lab.zip_source(OTHER_SOURCE)).digest()).decode()
    refused(lambda: lam.publish_version(FunctionName=name, CodeSha256=other), "InvalidParameterValueException",
            f"CodeSHA256 ({other}) is different from current CodeSHA256 in $LATEST ({current}). Please try again "
            "with the CodeSHA256 in $LATEST.", 400)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    assert lam.publish_version(FunctionName=name, CodeSha256=current)["Version"] == "1"


# -- name forms ----------------------------------------------------------------------------------
def forms(lab, name, qualifier=None):
    """The documented ways to name a function: name, partial ARN, full ARN (each with the qualifier if given)."""
    tail = f":{qualifier}" if qualifier else ""
    return [f"{name}{tail}", f"{ACCOUNT}:function:{name}{tail}",
            f"arn:aws:lambda:{lab.region}:{ACCOUNT}:function:{name}{tail}"]


@pytest.fixture
def versioned(lam, make_function):
    """A function with version 1 (old code), alias `live` on it, and a statement on $LATEST's policy."""
    name = make_function(SOURCE)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(OTHER_SOURCE))
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    return name


UNQUALIFIED_ACTIONS = {
    "get_function": lambda lam, ref: lam.get_function(FunctionName=ref)["Configuration"]["Version"],
    "get_function_configuration": lambda lam, ref: lam.get_function_configuration(FunctionName=ref)["Version"],
    "update_function_configuration": lambda lam, ref: lam.update_function_configuration(
        FunctionName=ref, Description=ref)["Description"],
    "publish_version": lambda lam, ref: lam.publish_version(FunctionName=ref)["Version"],
    "get_policy": lambda lam, ref: len(lam.get_policy(FunctionName=ref)["Policy"]) > 0,
    "list_aliases": lambda lam, ref: [a["Name"] for a in lam.list_aliases(FunctionName=ref)["Aliases"]],
    "list_versions_by_function": lambda lam, ref: len(lam.list_versions_by_function(FunctionName=ref)["Versions"]),
    "get_alias": lambda lam, ref: lam.get_alias(FunctionName=ref, Name="live")["FunctionVersion"],
    "put_function_concurrency": lambda lam, ref: lam.put_function_concurrency(
        FunctionName=ref, ReservedConcurrentExecutions=5)["ReservedConcurrentExecutions"],
}


@pytest.mark.parametrize("action", sorted(UNQUALIFIED_ACTIONS))
def test_every_unqualified_name_form_works_in_every_action(lab, lam, versioned, action):
    answers = [UNQUALIFIED_ACTIONS[action](lam, ref) for ref in forms(lab, versioned)]
    expected = {"get_function": "$LATEST", "get_function_configuration": "$LATEST", "get_policy": True,
                "list_aliases": ["live"], "list_versions_by_function": 2, "get_alias": "1",
                "put_function_concurrency": 5, "publish_version": "2"}
    if action == "update_function_configuration":
        assert answers == forms(lab, versioned)
    elif action == "list_versions_by_function":
        assert answers == [2, 2, 2]
    else:
        assert answers == [expected[action]] * 3


@pytest.mark.parametrize("qualifier", ["1", "live", "$LATEST"])
def test_every_qualified_name_form_names_that_version(lab, lam, versioned, qualifier):
    version = {"1": "1", "live": "1", "$LATEST": "$LATEST"}[qualifier]
    for ref in forms(lab, versioned, qualifier):
        assert lam.get_function(FunctionName=ref)["Configuration"]["Version"] == version, ref
        assert lam.get_function_configuration(FunctionName=ref)["Version"] == version, ref
        assert lam.invoke(FunctionName=ref)["ExecutedVersion"] == version, ref
        # and the same through the Qualifier parameter, which must agree with the name's
        assert lam.get_function(FunctionName=ref, Qualifier=qualifier)["Configuration"]["Version"] == version
    full = forms(lab, versioned, qualifier)[2]
    refused(lambda: lam.get_function(FunctionName=full, Qualifier="2"), "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.")


def test_a_qualified_name_is_refused_where_the_action_acts_on_the_function(lab, lam, versioned):
    for ref in forms(lab, versioned, "1"):
        refused(lambda: lam.update_function_configuration(FunctionName=ref, Timeout=9),
                "InvalidParameterValueException", "Current operation does not support versions other than $LATEST")
        refused(lambda: lam.put_function_concurrency(FunctionName=ref, ReservedConcurrentExecutions=5),
                "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and "
                "versions do not support this operation. Please specify either a function name or an unqualified "
                "function ARN.")
    assert lam.get_function_configuration(FunctionName=versioned, Qualifier="1")["Timeout"] == 3
    assert lam.update_function_configuration(FunctionName=f"{versioned}:$LATEST", Timeout=9)["Timeout"] == 9


def test_delete_function_with_a_partial_arn_and_a_version_qualifier(lab, lam, make_function):
    name = make_function(SOURCE)
    lam.publish_version(FunctionName=name)
    lam.delete_function(FunctionName=f"{ACCOUNT}:function:{name}:1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    lam.delete_function(FunctionName=f"{ACCOUNT}:function:{name}")
    refused(lambda: lam.get_function(FunctionName=name), "ResourceNotFoundException",
            f"Function not found: arn:aws:lambda:{lab.region}:{ACCOUNT}:function:{name}")


# -- aliases and versions ------------------------------------------------------------------------
def test_creating_an_existing_alias_is_a_resource_conflict(lab, lam, versioned):
    refused(lambda: lam.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1"),
            "ResourceConflictException",
            f"Alias already exists: arn:aws:lambda:{lab.region}:{ACCOUNT}:function:{versioned}:live", 409)


def test_alias_reads_answer_200_and_delete_alias_204(lam, versioned):
    assert lam.get_alias(FunctionName=versioned, Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert lam.update_alias(FunctionName=versioned, Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert lam.delete_alias(FunctionName=versioned, Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_list_aliases_filters_by_function_version(lam, versioned):
    lam.publish_version(FunctionName=versioned)
    lam.create_alias(FunctionName=versioned, Name="next", FunctionVersion="2")
    lam.create_alias(FunctionName=versioned, Name="stable", FunctionVersion="1")
    names = lambda **kw: [a["Name"] for a in lam.list_aliases(FunctionName=versioned, **kw)["Aliases"]]
    assert names(FunctionVersion="1") == ["live", "stable"]
    assert names(FunctionVersion="2") == ["next"]
    assert names() == ["live", "next", "stable"]


def test_a_version_an_alias_points_or_routes_to_cannot_be_deleted(lam, versioned):
    lam.publish_version(FunctionName=versioned)
    lam.create_alias(FunctionName=versioned, Name="canary", FunctionVersion="2",
                     RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}})
    refused(lambda: lam.delete_function(FunctionName=versioned, Qualifier="1"), "ResourceConflictException",
            "Unable to delete version because the following aliases reference it: [canary, live]", 409)
    refused(lambda: lam.delete_function(FunctionName=f"{versioned}:2"), "ResourceConflictException",
            "Unable to delete version because the following aliases reference it: [canary]", 409)
    assert len(lam.list_versions_by_function(FunctionName=versioned)["Versions"]) == 3
    lam.delete_alias(FunctionName=versioned, Name="canary")
    lam.delete_alias(FunctionName=versioned, Name="live")
    lam.delete_function(FunctionName=versioned, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=versioned)["Versions"]] == ["$LATEST", "2"]


def test_delete_function_refuses_latest_and_aliases_and_leaves_the_function_whole(lam, versioned):
    refused(lambda: lam.delete_function(FunctionName=versioned, Qualifier="$LATEST"), "InvalidParameterValueException",
            "$LATEST version cannot be deleted without deleting the function.", 400)
    refused(lambda: lam.delete_function(FunctionName=f"{versioned}:live"), "InvalidParameterValueException",
            "Deletion of aliases is not currently supported.", 400)
    assert lam.get_function(FunctionName=versioned)["Configuration"]["Version"] == "$LATEST"
    assert lam.invoke(FunctionName=versioned)["ExecutedVersion"] == "$LATEST"
    assert lam.invoke(FunctionName=versioned, Qualifier="live")["ExecutedVersion"] == "1"


# -- KMSKeyArn -----------------------------------------------------------------------------------
@pytest.fixture
def kms():
    return boto3.client("kms")


def test_kms_key_arn_is_stored_returned_and_frozen_into_versions(lam, make_function, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    name = make_function(SOURCE, Environment={"Variables": {"SECRET": "x"}}, KMSKeyArn=key)
    assert lam.get_function_configuration(FunctionName=name)["KMSKeyArn"] == key
    assert lam.get_function(FunctionName=name)["Configuration"]["KMSKeyArn"] == key
    assert lam.publish_version(FunctionName=name)["KMSKeyArn"] == key
    other = kms.create_key()["KeyMetadata"]["Arn"]
    assert lam.update_function_configuration(FunctionName=name, KMSKeyArn=other)["KMSKeyArn"] == other
    assert lam.publish_version(FunctionName=name)["Version"] == "2"  # a new key is a new configuration
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["KMSKeyArn"] == key
    cleared = lam.update_function_configuration(FunctionName=name, KMSKeyArn="")
    assert "KMSKeyArn" not in cleared  # "" goes back to Lambda's own key
    assert "KMSKeyArn" not in lam.get_function_configuration(FunctionName=name)


def test_a_kms_key_lambda_cannot_grant_itself_is_refused(lab, lam, make_function, kms):
    missing = f"arn:aws:kms:{lab.region}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    refused(lambda: make_function(SOURCE, KMSKeyArn=missing), "InvalidParameterValueException",
            CREATE_GRANT + f"NotFoundException KMS Message: Key '{missing}' does not exist", 400)
    alias = f"arn:aws:kms:{lab.region}:{ACCOUNT}:alias/my-key"
    refused(lambda: make_function(SOURCE, KMSKeyArn=alias), "InvalidParameterValueException",
            CREATE_GRANT + "InvalidArnException KMS Message: Key Aliases are not supported for this operation.")
    doomed = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    name = make_function(SOURCE)
    refused(lambda: lam.update_function_configuration(FunctionName=name, KMSKeyArn=doomed["Arn"]),
            "InvalidParameterValueException",
            CREATE_GRANT + f"KMSInvalidStateException KMS Message: {doomed['Arn']} is pending deletion.")
    assert "KMSKeyArn" not in lam.get_function_configuration(FunctionName=name)


def test_ephemeral_storage_and_snap_start_set_on_update_are_stored_and_returned(lam, make_function):
    name = make_function(SOURCE, EphemeralStorage={"Size": 1024})
    updated = lam.update_function_configuration(FunctionName=name, EphemeralStorage={"Size": 2048})
    assert updated["EphemeralStorage"] == {"Size": 2048}
    assert lam.get_function_configuration(FunctionName=name)["EphemeralStorage"] == {"Size": 2048}
    assert lam.publish_version(FunctionName=name)["EphemeralStorage"] == {"Size": 2048}
    # SnapStart apart, at the default 512 MB of /tmp: AWS does not combine it with more (lambda-behaviour.md)
    snapped = make_function(SOURCE)
    updated = lam.update_function_configuration(FunctionName=snapped, SnapStart={"ApplyOn": "PublishedVersions"})
    assert updated["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    published = lam.publish_version(FunctionName=snapped)
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert published["EphemeralStorage"] == {"Size": 512}


def test_invoking_with_a_key_disabled_after_it_was_set_fails_as_lambda_does(lam, make_function, kms):
    key = kms.create_key()["KeyMetadata"]
    name = make_function(SOURCE, Environment={"Variables": {"SECRET": "x"}}, KMSKeyArn=key["Arn"])
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200
    kms.disable_key(KeyId=key["KeyId"])
    refused(lambda: lam.invoke(FunctionName=name), "KMSDisabledException",
            "Lambda was unable to decrypt the environment variables because the KMS key used is disabled. Please "
            f"check the function's KMS key settings. KMS Exception: DisabledExceptionKMS Message: {key['Arn']} is "
            "disabled.", 502)
    kms.enable_key(KeyId=key["KeyId"])
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200


# -- GetAccountSettings --------------------------------------------------------------------------
def test_get_account_settings_reports_the_limits_the_lab_enforces_and_the_usage(lab, lam, make_function):
    before = lam.get_account_settings()
    assert before["AccountLimit"]["CodeSizeZipped"] == 52_428_800
    assert before["AccountLimit"]["CodeSizeUnzipped"] == 262_144_000
    assert before["AccountLimit"]["TotalCodeSize"] == 80_530_636_800
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    name = make_function(SOURCE)
    size = lam.get_function_configuration(FunctionName=name)["CodeSize"]
    lam.publish_version(FunctionName=name)  # a version stores its own copy of the code, as AWS counts it
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=200)
    after = lam.get_account_settings()
    assert after["AccountUsage"]["FunctionCount"] == before["AccountUsage"]["FunctionCount"] + 1
    assert after["AccountUsage"]["TotalCodeSize"] == before["AccountUsage"]["TotalCodeSize"] + 2 * size
    unreserved = after["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert unreserved == before["AccountLimit"]["UnreservedConcurrentExecutions"] - 200
    # the lab refuses exactly what would take the unreserved pool below 100
    other = make_function(SOURCE)
    refused(lambda: lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=unreserved - 99),
            "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases "
            "account's UnreservedConcurrentExecution below its minimum value of [100].")
    lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=unreserved - 100)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    lam.delete_function_concurrency(FunctionName=other)
    lam.delete_function_concurrency(FunctionName=name)
