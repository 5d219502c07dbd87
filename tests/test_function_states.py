"""Function states in the local lab: CreateFunction answers Pending, an update InProgress, and both are done by the next call."""

import json


import lambda_lab

from conftest import invoke

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def test_create_answers_pending_and_the_next_look_finds_it_active(lab, lam, make_function):
    name = f"states-{id(lab) % 1000}"
    created = lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn,
                                  Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(SOURCE)})
    try:
        assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
            "Pending", "The function is being created.", "Creating")
        assert "LastUpdateStatus" not in created  # AWS's create answer has none
        config = lam.get_function(FunctionName=name)["Configuration"]
        assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
        assert "StateReason" not in config
        # the local lab is done by the next call: invoking at once works (on AWS, wait first)
        assert invoke(lam, name)[1] == {"ok": True}
    finally:
        lam.delete_function(FunctionName=name)


def test_an_update_answers_in_progress_and_the_waiter_passes(lam, make_function):
    name = make_function(SOURCE)
    updated = lam.update_function_configuration(FunctionName=name, MemorySize=256)
    assert (updated["State"], updated["LastUpdateStatus"], updated["LastUpdateStatusReason"],
            updated["LastUpdateStatusReasonCode"]) == ("Active", "InProgress", "The function is being created.",
                                                       "Creating")
    assert updated["MemorySize"] == 256
    code = lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(SOURCE))
    assert code["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful"
