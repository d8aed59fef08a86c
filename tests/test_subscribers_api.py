"""Editor API for subscribers: list, export, erase (by id and by address)."""

from __future__ import annotations

import csv
import io

import pytest
from fixtures.subscribers import queued_messages
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.models import Consent, Delivery, Subscriber, SubscriberLanguage
from newsletter.models.subscribers import PENDING, UNSUBSCRIBED


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/subscribers"),
        ("get", "/api/v1/subscribers/export"),
        ("delete", "/api/v1/subscribers/1"),
        ("post", "/api/v1/subscribers/erase"),
    ],
)
def test_editor_token_is_required(client, add_subscriber, method, path):
    add_subscriber("a@example.org", ["en"])
    response = getattr(client, method)(path, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert db.session.scalar(select(Subscriber)) is not None


def test_list_is_paged_and_filtered(client, admin_headers, add_subscriber):
    for index in range(5):
        add_subscriber(f"s{index}@example.org", ["ru"] if index % 2 else ["en"])
    add_subscriber("p@example.org", ["be"], status=PENDING)
    body = client.get("/api/v1/subscribers?per_page=2&page=2", headers=admin_headers).get_json()
    assert body["total"] == 6 and body["page"] == 2 and len(body["subscribers"]) == 2
    assert set(body["subscribers"][0]) >= {"id", "email", "status", "languages", "pending_languages", "confirmed_at"}
    ru = client.get("/api/v1/subscribers?language=ru&status=confirmed", headers=admin_headers).get_json()
    assert sorted(row["email"] for row in ru["subscribers"]) == ["s1@example.org", "s3@example.org"]
    pending = client.get("/api/v1/subscribers?status=pending", headers=admin_headers).get_json()["subscribers"]
    assert pending[0]["pending_languages"] == ["be"] and pending[0]["languages"] == []


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=x",
        "per_page=100000",
        "status=gone",
        "language=de",
        "page=99999999999999999999",
        "page=%C2%B2",
        "per_page=99999999999999999999",
    ],
)
def test_list_rejects_bad_parameters(client, admin_headers, query):
    response = client.get(f"/api/v1/subscribers?{query}", headers=admin_headers)
    assert response.status_code == 422 and response.get_json()["errors"]


def test_export_is_csv(client, admin_headers, add_subscriber):
    add_subscriber("a@example.org", ["ru", "en"])
    add_subscriber("b@example.org", [], status=UNSUBSCRIBED)
    response = client.get("/api/v1/subscribers/export", headers=admin_headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["email", "languages", "confirmed_at"] and [row[:2] for row in rows[1:]] == [
        ["a@example.org", "en|ru"]
    ]
    everything = client.get("/api/v1/subscribers/export?all=1", headers=admin_headers).get_data(as_text=True)
    assert "b@example.org,,,unsubscribed" in everything


def test_erase_by_id_removes_personal_data_and_keeps_deliveries_anonymous(client, admin_headers):
    client.post("/api/v1/subscriptions", json={"email": "gone@example.org", "languages": ["en"]})
    assert len(queued_messages()) == 1
    subscriber_id = db.session.scalar(select(Subscriber.id))
    response = client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=admin_headers)
    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber)) is None
    assert db.session.scalar(select(SubscriberLanguage)) is None and db.session.scalar(select(Consent)) is None
    delivery = db.session.scalar(select(Delivery))
    assert delivery.subscriber_id is None and delivery.consent_id is None and delivery.payload is None
    assert client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=admin_headers).status_code == 404


def test_erase_by_address(client, admin_headers, add_subscriber):
    add_subscriber("gone@example.org", ["en"])
    add_subscriber("kept@example.org", ["en"])
    response = client.post("/api/v1/subscribers/erase", json={"email": "gone@EXAMPLE.org"}, headers=admin_headers)
    assert response.status_code == 204
    assert list(db.session.scalars(select(Subscriber.email))) == ["kept@example.org"]
    again = client.post("/api/v1/subscribers/erase", json={"email": "gone@example.org"}, headers=admin_headers)
    assert again.status_code == 404
    bad = client.post("/api/v1/subscribers/erase", data="nope", content_type="text/plain", headers=admin_headers)
    assert bad.status_code == 422
