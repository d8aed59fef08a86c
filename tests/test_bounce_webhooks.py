"""`POST /webhooks/bounces/<provider>`: SES via SNS (signature verified), Postmark (basic auth), generic JSON."""

from __future__ import annotations

import base64

import pytest
from fixtures.bounces import ses_notification

from newsletter.core.extensions import db
from newsletter.models import BounceEvent, Subscriber, Suppression


def _state() -> tuple:
    db.session.expire_all()
    return (
        db.session.scalar(db.select(db.func.count()).select_from(BounceEvent)),
        db.session.scalar(db.select(db.func.count()).select_from(Suppression)),
        sorted(db.session.scalars(db.select(Subscriber.status))),
    )


def test_an_ses_bounce_with_a_valid_signature_suppresses(sns_signer, client, one_sent):
    delivery, verp, message_id, address = one_sent
    response = client.post("/webhooks/bounces/ses", json=ses_notification(sns_signer, "hard", verp, address, None))
    assert response.status_code == 200 and response.json["outcomes"] == ["applied"]
    entry = db.session.scalar(db.select(Suppression).filter_by(email=address))
    assert (entry.cause, entry.delivery_id) == ("hard_bounce", delivery.id)
    again = client.post("/webhooks/bounces/ses", json=ses_notification(sns_signer, "hard", verp, address, None))
    assert again.json["outcomes"] == ["duplicate"]


def test_an_ses_complaint_is_tied_by_message_id_and_unsubscribes(sns_signer, client, one_sent):
    delivery, _verp, message_id, address = one_sent
    notification = ses_notification(sns_signer, "complaint", "newsletter@newsletter.test", address, message_id)
    assert client.post("/webhooks/bounces/ses", json=notification).json["outcomes"] == ["applied"]
    assert db.session.scalar(db.select(Subscriber.status).filter_by(email=address)) == "unsubscribed"


@pytest.mark.parametrize("tamper", ["message", "signature", "cert_url", "version"])
def test_an_ses_webhook_with_a_bad_signature_gets_403_and_changes_nothing(sns_signer, client, one_sent, tamper):
    _delivery, verp, _message_id, address = one_sent
    before = _state()
    notification = ses_notification(sns_signer, "hard", verp, address, None)
    if tamper == "message":
        notification["Message"] = notification["Message"].replace("5.1.1", "5.1.2")
    elif tamper == "signature":
        notification["Signature"] = base64.b64encode(b"x" * 256).decode()
    elif tamper == "cert_url":
        notification["SigningCertURL"] = "https://evil.example/cert.pem"
    else:
        notification["SignatureVersion"] = "9"
    response = client.post("/webhooks/bounces/ses", json=notification)
    assert response.status_code == 403 and "error" in response.json
    assert _state() == before


def test_production_accepts_only_amazonaws_certificate_urls(app):
    import re

    from newsletter.core.config import DEFAULTS

    pattern = DEFAULTS["SNS_CERT_URL_PATTERN"]
    assert re.match(pattern, "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem")
    for url in (
        "http://sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/x",
        "https://evil.example/sns.eu-west-1.amazonaws.com/x",
        "https://127.0.0.1/x.pem",
    ):
        assert not re.match(pattern, url), url


def test_an_sns_subscription_confirmation_is_verified_then_followed(sns_signer, client):
    confirmation = sns_signer.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "m-1",
            "Token": "t",
            "TopicArn": "arn:aws:sns:x",
            "Message": "You have chosen to subscribe",
            "SubscribeURL": sns_signer.base + "/?Action=ConfirmSubscription",
            "Timestamp": "2022-01-17T10:00:00.000Z",
        }
    )
    assert client.post("/webhooks/bounces/ses", json=confirmation).status_code == 200
    assert "/?Action=ConfirmSubscription" in sns_signer.requested


def test_webhooks_refuse_bodies_that_are_not_json_and_unknown_providers(sns_signer, client):
    assert client.post("/webhooks/bounces/ses", data=b"{not json", content_type="application/json").status_code == 400
    assert client.post("/webhooks/bounces/ses", json=[1, 2]).status_code == 400
    assert client.post("/webhooks/bounces/mailgun", json={}).status_code == 404


@pytest.fixture
def postmark_auth(app_config):
    app_config["POSTMARK_WEBHOOK_AUTH"] = "postmark:s3cret"
    return {"Authorization": "Basic " + base64.b64encode(b"postmark:s3cret").decode()}


def test_postmark_needs_its_basic_auth_and_then_suppresses_hard_bounces(postmark_auth, client, one_sent):
    delivery, _verp, _message_id, address = one_sent
    event = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": address,
        "Details": "smtp;550 5.1.1 The email account does not exist.",
    }
    wrong = {"Authorization": "Basic " + base64.b64encode(b"postmark:guess").decode()}
    before = _state()
    assert client.post("/webhooks/bounces/postmark", json=event, headers=wrong).status_code == 401
    assert client.post("/webhooks/bounces/postmark", json=event).status_code == 401
    assert _state() == before
    response = client.post("/webhooks/bounces/postmark", json=event, headers=postmark_auth)
    assert response.json["outcomes"] == ["applied"]
    assert db.session.scalar(db.select(Suppression.delivery_id).filter_by(email=address)) == delivery.id


def test_postmark_is_off_unless_configured(client):
    assert client.post("/webhooks/bounces/postmark", json={}).status_code == 404


@pytest.fixture
def generic_token(app_config):
    app_config["BOUNCE_WEBHOOK_TOKEN"] = "tok"


def test_the_generic_shape_with_its_bearer_token(generic_token, client, one_sent):
    delivery, verp, _message_id, address = one_sent
    headers = {"Authorization": "Bearer tok"}
    assert (
        client.post(
            "/webhooks/bounces/generic", json={"type": "hard"}, headers={"Authorization": "Bearer no"}
        ).status_code
        == 401
    )
    bad = client.post("/webhooks/bounces/generic", json={"events": [{"type": "bounced"}]}, headers=headers)
    assert bad.status_code == 422
    body = {
        "events": [
            {"id": "e1", "type": "soft", "return_path": verp, "status": "4.2.2"},
            {"id": "e2", "type": "complaint", "return_path": verp},
        ]
    }
    response = client.post("/webhooks/bounces/generic", json=body, headers=headers)
    assert response.json["outcomes"] == ["applied", "applied"]
    assert db.session.scalar(db.select(Suppression.cause).filter_by(email=address)) == "complaint"


def test_a_nul_in_a_postmark_details_or_a_generic_diagnostic_is_dropped_not_a_500(
    postmark_auth, generic_token, client, one_sent
):
    _delivery, verp, _message_id, address = one_sent
    event = {"RecordType": "Bounce", "ID": 1, "Type": "SoftBounce", "Email": address, "Details": "mailbox\x00 full"}
    assert client.post("/webhooks/bounces/postmark", json=event, headers=postmark_auth).status_code == 200
    generic = {"id": "n1", "type": "soft", "return_path": verp, "status": "4.2.2", "diagnostic": "quota\x00 exceeded"}
    response = client.post("/webhooks/bounces/generic", json=generic, headers={"Authorization": "Bearer tok"})
    assert response.status_code == 200, response.json
    db.session.expire_all()
    assert sorted(db.session.scalars(db.select(BounceEvent.diagnostic))) == ["mailbox full", "quota exceeded"]


def test_a_postmark_block_is_about_us_and_a_subscription_change_unsubscribes(postmark_auth, client, one_sent):
    _delivery, _verp, _message_id, address = one_sent
    blocked = {
        "RecordType": "Bounce",
        "ID": 2,
        "Type": "HardBounce",
        "Email": address,
        "Details": "smtp;550 5.7.1 Service unavailable; client host blocked using Spamhaus",
    }
    assert client.post("/webhooks/bounces/postmark", json=blocked, headers=postmark_auth).json["outcomes"] == [
        "applied"
    ]
    assert _state()[1:] == (0, ["confirmed"])
    change = {
        "RecordType": "SubscriptionChange",
        "Recipient": address,
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "ChangedAt": "2026-12-08T01:00:00Z",
    }
    assert client.post("/webhooks/bounces/postmark", json=change, headers=postmark_auth).status_code == 200
    assert _state()[1:] == (0, ["unsubscribed"])


@pytest.fixture
def sns_topics(app_config):
    app_config["SNS_TOPIC_ARNS"] = "arn:aws:sns:eu-west-1:123456789012:bounces, arn:aws:sns:eu-west-1:1:other"


def test_sns_topics_outside_the_allow_list_are_refused_confirmation_included(sns_signer, sns_topics, client):
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m-2",
        "Token": "t",
        "TopicArn": "arn:aws:sns:eu-west-1:999999999999:someone-elses",
        "Message": "You have chosen to subscribe",
        "SubscribeURL": sns_signer.base + "/?Action=ConfirmSubscription&other",
        "Timestamp": "2022-01-17T10:00:00.000Z",
    }
    response = client.post("/webhooks/bounces/ses", json=sns_signer.sign(confirmation))
    assert response.status_code == 403 and not any("other" in path for path in sns_signer.requested)
    confirmation["TopicArn"] = "arn:aws:sns:eu-west-1:123456789012:bounces"
    assert client.post("/webhooks/bounces/ses", json=sns_signer.sign(confirmation)).status_code == 200
