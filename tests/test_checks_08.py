"""Exercise 08.1: a canary release, 10% of an alias's traffic on a new published version."""

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

FLAT_SHIPPING = """
def handler(event, context):
    return {"shipping": 5.0, "version": context.function_version}
"""
FREE_FROM_THREE = """
def handler(event, context):
    shipping = 0.0 if event.get("items", 1) >= 3 else 5.0
    return {"shipping": shipping, "version": context.function_version}
"""


@pytest.fixture
def lam():
    """The exercise's setup: version 1 behind alias 'live', new code in $LATEST."""
    with lambda_lab.Lab(seed=80, quiet=True) as lab:
        client = boto3.client("lambda")
        client.create_function(FunctionName="checkout", Runtime="python3.13", Role=lab.role_arn,
                               Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(FLAT_SHIPPING)})
        client.publish_version(FunctionName="checkout")
        client.create_alias(FunctionName="checkout", Name="live", FunctionVersion="1")
        client.update_function_code(FunctionName="checkout", ZipFile=lambda_lab.zip_source(FREE_FROM_THREE))
        client.get_waiter("function_updated_v2").wait(FunctionName="checkout")
        yield client


def route(lam, primary, weights):
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion=primary,
                     RoutingConfig={"AdditionalVersionWeights": weights})


def failure() -> str:
    with pytest.raises(CheckFailed) as info:
        checks.ex_08_canary("checkout", alias="live")
    return str(info.value)


def test_the_solution_passes(lam, capsys):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, "1", {new: 0.1})
    checks.ex_08_canary("checkout", alias="live")
    out = capsys.readouterr().out
    assert out.startswith("Check passed: 'live' keeps version 1 and sends 10% to version 2:")


def test_doing_nothing_fails(lam):
    message = failure()
    assert "The new code is only in $LATEST" in message
    assert not [word for word in ("publish_version", "RoutingConfig", "AdditionalVersionWeights", "0.1")
                if word in message], message


def test_publishing_without_routing_fails(lam):
    lam.publish_version(FunctionName="checkout")
    message = failure()
    assert "still sends every request to version 1" in message and "with the new version 2 yet" in message
    assert "AdditionalVersionWeights" not in message and "0.1" not in message


def test_weight_on_latest_is_refused_and_the_check_says_why(lam):
    with pytest.raises(ClientError) as info:
        route(lam, "1", {"$LATEST": 0.1})
    assert info.value.response["Error"]["Code"] == "ValidationException"
    message = failure()
    assert "a weight on '$LATEST' is refused with a ValidationException" in message
    assert "section 'Publishing a version'" in message


def test_ninety_percent_to_the_new_version(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, "1", {new: 0.9})
    message = failure()
    assert "sends 90% of requests to the new version 2" in message
    assert "The weight is the share of the additional version" in message


def test_moving_the_whole_alias(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion=new)
    message = failure()
    assert "You moved 'live' entirely to version 2" in message and "not a canary" in message


def test_reversed_roles(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, new, {"1": 0.9})
    assert "The roles are reversed" in failure()


def test_another_weight(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, "1", {new: 0.25})
    assert "sends 25% of requests to version 2; the task asks for 10%" in failure()


def test_no_alias_says_to_run_the_setup():
    with lambda_lab.Lab(quiet=True) as lab:
        boto3.client("lambda").create_function(
            FunctionName="checkout", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
            Code={"ZipFile": lambda_lab.zip_source(FLAT_SHIPPING)})
        assert "Run the exercise's setup cell first" in failure()


# -- Exercise 08.2: an SNS topic pinned to a version instead of the alias ----------------------------------

def checkout_code(free_from):
    return lambda_lab.zip_source(f"""
import json

def handler(event, context):
    orders = [json.loads(r["Sns"]["Message"]) for r in event["Records"]] if "Records" in event else [event]
    for order in orders:
        items = order.get("items", 1)
        shipping = 0.0 if items >= {free_from} else 5.0
        print(f"order {{order.get('id')}}: {{items}} items, shipping {{shipping:.2f}}")
    return {{"shipping": shipping, "version": context.function_version}}
""")


@pytest.fixture
def pinned():
    """Exercise 08.2's setup: 'live' points at version 2, the topic is still subscribed to version 1."""
    with lambda_lab.Lab(seed=82, quiet=True) as lab:
        lam, sns = boto3.client("lambda"), boto3.client("sns")
        lam.create_function(FunctionName="checkout", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": checkout_code(10**6)})
        v1 = lam.publish_version(FunctionName="checkout")["FunctionArn"]
        lam.create_alias(FunctionName="checkout", Name="live", FunctionVersion="1")
        topic = sns.create_topic(Name="new-orders")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=v1)
        lam.add_permission(FunctionName="checkout", Qualifier="1", StatementId="sns-new-orders",
                           Action="lambda:InvokeFunction", Principal="sns.amazonaws.com", SourceArn=topic)
        lam.update_function_code(FunctionName="checkout", ZipFile=checkout_code(3))
        lam.get_waiter("function_updated_v2").wait(FunctionName="checkout")
        lam.publish_version(FunctionName="checkout")
        lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion="2")
        alias = lam.get_alias(FunctionName="checkout", Name="live")["AliasArn"]
        yield {"lam": lam, "sns": sns, "topic": topic, "v1": v1, "alias": alias}


def allow_alias(p, **condition):
    p["lam"].add_permission(FunctionName="checkout", Qualifier="live", StatementId="sns-live",
                            Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                            **({"SourceArn": p["topic"]} if condition.get("source", True) else {}))


def drop_old_subscription(p):
    for subscription in p["sns"].list_subscriptions_by_topic(TopicArn=p["topic"])["Subscriptions"]:
        if subscription["Endpoint"] == p["v1"]:
            p["sns"].unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])


def topic_failure() -> str:
    with pytest.raises(CheckFailed) as info:
        checks.ex_08_topic_follows_alias("checkout", alias="live", topic_name="new-orders")
    return str(info.value)


TOPIC_ANSWER = ("subscribe(", "Qualifier", "remove_permission", "unsubscribe", ":live", "AliasArn")


def test_topic_solution_passes(pinned, capsys):
    allow_alias(pinned)
    pinned["sns"].subscribe(TopicArn=pinned["topic"], Protocol="lambda", Endpoint=pinned["alias"])
    drop_old_subscription(pinned)
    pinned["lam"].remove_permission(FunctionName="checkout", Qualifier="1", StatementId="sns-new-orders")
    checks.ex_08_topic_follows_alias("checkout", alias="live", topic_name="new-orders")
    assert capsys.readouterr().out == ("Check passed: 'new-orders' invokes 'checkout:live', which SNS alone, from this "
                                       "topic, may call; a test order ran version 2, the one 'live' points at.\n")


def test_topic_blank_fails_without_the_answer(pinned):
    message = topic_failure()
    assert message.startswith("Orders from 'new-orders' still run version 1 of 'checkout', while 'live' points at "
                              "version 2")
    assert "section 'Event sources point at the alias'" in message
    assert not [word for word in TOPIC_ANSWER if word in message], message


def test_topic_two_subscriptions_run_each_order_twice(pinned):
    allow_alias(pinned)
    pinned["sns"].subscribe(TopicArn=pinned["topic"], Protocol="lambda", Endpoint=pinned["alias"])
    assert "every order now runs twice" in topic_failure()


def test_topic_permission_on_the_function_does_not_cover_the_alias(pinned):
    pinned["lam"].add_permission(FunctionName="checkout", StatementId="sns-any", Action="lambda:InvokeFunction",
                                 Principal="sns.amazonaws.com", SourceArn=pinned["topic"])
    pinned["sns"].subscribe(TopicArn=pinned["topic"], Protocol="lambda", Endpoint=pinned["alias"])
    drop_old_subscription(pinned)
    message = topic_failure()
    assert "no statement lets SNS invoke 'live'" in message
    assert not [word for word in TOPIC_ANSWER if word in message], message


def test_topic_permission_for_any_topic(pinned):
    allow_alias(pinned, source=False)
    pinned["sns"].subscribe(TopicArn=pinned["topic"], Protocol="lambda", Endpoint=pinned["alias"])
    drop_old_subscription(pinned)
    assert "any SNS topic, in any account, may invoke" in topic_failure()


def test_topic_leftover_permission_on_version_1(pinned):
    allow_alias(pinned)
    pinned["sns"].subscribe(TopicArn=pinned["topic"], Protocol="lambda", Endpoint=pinned["alias"])
    drop_old_subscription(pinned)
    assert "version(s) 1 still lets SNS invoke them" in topic_failure()


def test_topic_unqualified_subscription_runs_latest(pinned):
    pinned["sns"].subscribe(TopicArn=pinned["topic"], Protocol="lambda",
                            Endpoint=pinned["alias"].rsplit(":", 1)[0])
    drop_old_subscription(pinned)
    assert "so its orders run $LATEST" in topic_failure()
