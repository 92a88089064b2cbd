"""Writes of outgoing webhooks: endpoints, emitting events, and delivering them.

Emitting (`webhook_event_emit`) runs inside the caller's transaction: it stores one Delivery per
active endpoint that wants the event (the unique (endpoint, event id) makes a second emit of the
same event a no-op) and enqueues the sending after commit, so a rolled-back caller sends nothing.
It never raises: an event that cannot be queued is logged, and the caller's work stands.

Delivering (`delivery_attempt`, what integrations.tasks.deliver_webhook calls) is a small state
machine, like the publishing engine:

    pending -> delivering -> succeeded | pending (retry later) | failed

The pending -> delivering claim is one conditional UPDATE that also sets a lease, so two copies
of the task (a redelivery, a sweep) can never send the same delivery at the same time. The HTTP
call runs outside any transaction. A 2xx ends it for good; anything else is retried with
exponential backoff and jitter until WEBHOOK_MAX_ATTEMPTS, then it is failed. A worker that
dies mid-call leaves the lease to run out; `deliveries_sweep` then puts the delivery back to
pending (webhooks are at least once: receivers dedupe by X-Agency-Delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agency.models import Agency, Brand
from agency.retry import jittered_backoff
from agency.services import audit_log
from integrations.models import (
    SUBSCRIBABLE_EVENTS,
    Delivery,
    DeliveryAttempt,
    EventType,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

__all__ = [
    "SIGNATURE_VERSION",
    "deliveries_sweep",
    "delivery_attempt",
    "delivery_replay",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_rotate_secret",
    "endpoint_send_test",
    "endpoint_set_active",
    "endpoint_update",
    "event_id_for",
    "sign",
    "webhook_event_emit",
]

SIGNATURE_VERSION = "v1"
EXCERPT_CHARS = 1000
USER_AGENT = "agency-webhooks/1"
EVENT_NAMESPACE = uuid.UUID("5b0e7a64-3d2c-4c1e-9a55-0d8f3c1b2a77")
S = Delivery.State


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_attempts() -> int:
    return _setting("WEBHOOK_MAX_ATTEMPTS", 8)


def lease_seconds() -> float:
    return float(_setting("WEBHOOK_LEASE_SECONDS", 120))


def backoff_seconds(attempt: int) -> float:
    return jittered_backoff(
        attempt,
        base=_setting("WEBHOOK_BACKOFF_BASE_SECONDS", 60.0),
        cap=_setting("WEBHOOK_BACKOFF_CAP_SECONDS", 6 * 3600.0),
    )


# Beyond this a retry is left to the sweep instead of a countdown task (Redis redelivers far-
# future ETAs past its visibility timeout; see STYLE.md).
MAX_COUNTDOWN_SECONDS = 300.0


def event_id_for(event_type: str, *parts: Any) -> uuid.UUID:
    """A stable event id for an event that happens once per object (a target is published once),
    so that two code paths noticing it queue it once per endpoint."""
    return uuid.uuid5(EVENT_NAMESPACE, ":".join([event_type, *map(str, parts)]))


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """The X-Agency-Signature value: HMAC-SHA256 of "<timestamp>.<raw body>" with the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# -- endpoints -----------------------------------------------------------------------------------


def _private_targets_allowed() -> bool:
    return bool(_setting("WEBHOOK_ALLOW_PRIVATE_TARGETS", False))


def _refused_address(host: str) -> str | None:
    """The address a host resolves to that webhooks may not reach (loopback, private, link-local:
    the cloud's metadata service and our own database live there), or None."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return None  # the request itself reports that the name does not resolve
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return str(address)
    return None


def _validate_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Enter an http:// or https:// URL."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave the user name and password out of the URL."})
    if _private_targets_allowed():
        return
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if host == "localhost" or host.endswith(".localhost") or (literal and not literal.is_global):
        raise ValidationError(
            {"url": "Webhooks go to public addresses only; this one is on a private network."}
        )


def _validate_endpoint(endpoint: WebhookEndpoint) -> None:
    errors: dict[str, list[str]] = {}
    allowed = {value for value, _label in SUBSCRIBABLE_EVENTS}
    types = endpoint.event_types
    if not isinstance(types, list) or not types:
        errors["event_types"] = ["Choose at least one event."]
    elif unknown := sorted({str(t) for t in types} - allowed):
        errors["event_types"] = [f"Unknown event types: {', '.join(unknown)}."]
    else:
        endpoint.event_types = sorted(set(types))
    if endpoint.brand_id and endpoint.brand.agency_id != endpoint.agency_id:
        errors["brand"] = ["That brand is a client of another agency."]
    try:
        _validate_url(endpoint.url)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    endpoint.full_clean()


def _audit(endpoint: WebhookEndpoint, *, by, action: str, data: dict | None = None) -> None:
    audit_log(
        actor=by,
        action=action,
        target=endpoint,
        agency=endpoint.agency,
        brand=endpoint.brand,
        data=data,
    )


@transaction.atomic
def endpoint_create(
    *,
    agency: Agency,
    url: str,
    event_types: list[str],
    by,
    brand: Brand | None = None,
    description: str = "",
    is_active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret: the only time the secret is handed out in clear."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        agency=agency,
        brand=brand,
        url=url,
        secret=secret,
        event_types=list(event_types),
        description=description,
        is_active=is_active,
        created_by=by if by is not None and by.is_authenticated else None,
    )
    _validate_endpoint(endpoint)
    endpoint.save()
    _audit(endpoint, by=by, action="webhook_endpoint.created", data={"url": url})
    return endpoint, secret


ENDPOINT_FIELDS = ["url", "brand", "event_types", "description", "is_active"]


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, by, data: dict[str, Any]) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = {field: getattr(endpoint, field) for field in ENDPOINT_FIELDS}
    for field in ENDPOINT_FIELDS:
        if field in data:
            setattr(endpoint, field, data[field])
    if "event_types" in data:
        endpoint.event_types = list(data["event_types"])
    _validate_endpoint(endpoint)
    changed = [f for f in ENDPOINT_FIELDS if getattr(endpoint, f) != before[f]]
    if not changed:
        return endpoint
    endpoint.save(update_fields=[*changed, "updated_at"])
    _audit(endpoint, by=by, action="webhook_endpoint.updated", data={"fields": changed})
    return endpoint


def endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool, by) -> WebhookEndpoint:
    """Disabled, an endpoint hears nothing new; what was already queued for it waits and goes
    out when it is enabled again."""
    return endpoint_update(endpoint=endpoint, by=by, data={"is_active": active})


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, by) -> str:
    secret = new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        secret=secret,
        updated_at=timezone.now(),
    )
    endpoint.secret = secret
    _audit(endpoint, by=by, action="webhook_endpoint.secret_rotated")
    return secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, by) -> None:
    _audit(endpoint, by=by, action="webhook_endpoint.deleted", data={"url": endpoint.url})
    endpoint.delete()


# -- emitting ------------------------------------------------------------------------------------


def _envelope(
    *, event_type: str, event_id: uuid.UUID, brand: Brand | None, agency_id, data: dict
) -> dict:
    # Through JSON once, so dates, decimals and UUIDs are stored as the receiver will read them.
    return json.loads(
        json.dumps(
            {
                "id": str(event_id),
                "type": event_type,
                "created_at": timezone.now().isoformat().replace("+00:00", "Z"),
                "agency_id": str(agency_id),
                "brand": (
                    {"id": str(brand.pk), "name": brand.name, "slug": brand.slug}
                    if brand is not None
                    else None
                ),
                "data": data,
            },
            cls=DjangoJSONEncoder,
        )
    )


def _enqueue(ids: list) -> None:
    from integrations.tasks import deliver_webhook

    with deliver_webhook.app.producer_or_acquire() as producer:
        for delivery_id in ids:
            deliver_webhook.apply_async((str(delivery_id),), producer=producer)


def _enqueue_on_commit(ids: list) -> None:
    # robust: a broker that is down must not turn the caller's committed work into an error;
    # the rows are pending and the sweep enqueues them again.
    if ids:
        transaction.on_commit(lambda: _enqueue(ids), robust=True)


def _create_deliveries(
    *, event_type: str, brand: Brand, data: dict, event_id: uuid.UUID | None
) -> list[Delivery]:
    if event_type not in EventType.values or event_type == EventType.PING:
        raise ValueError(f"not an event type that endpoints subscribe to: {event_type!r}")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(agency_id=brand.agency_id, is_active=True)
        .filter(Q(brand__isnull=True) | Q(brand_id=brand.pk))
        .defer("secret")
        if endpoint.wants(event_type, brand.pk)
    ]
    if not endpoints:
        return []
    event_id = event_id or uuid.uuid4()
    payload = _envelope(
        event_type=event_type, event_id=event_id, brand=brand, agency_id=brand.agency_id, data=data
    )
    now = timezone.now()
    built = [
        Delivery(
            endpoint=endpoint,
            brand=brand,
            event_type=event_type,
            event_id=event_id,
            payload=payload,
            next_attempt_at=now,
            enqueued_at=now,
        )
        for endpoint in endpoints
    ]
    Delivery.objects.bulk_create(built, ignore_conflicts=True)
    # The ones the unique (endpoint, event id) skipped were never inserted: their ids are unknown.
    stored = set(Delivery.objects.filter(pk__in=[d.pk for d in built]).values_list("pk", flat=True))
    new = [d for d in built if d.pk in stored]
    _enqueue_on_commit([d.pk for d in new])
    return new


def webhook_event_emit(
    *, event_type: str, brand: Brand, data: dict, event_id: uuid.UUID | None = None
) -> list[Delivery]:
    """Queue `event_type` about `brand` for every active endpoint that subscribes to it.

    Call it inside the transaction that makes the event true: the deliveries commit (and are
    sent) with it, or not at all. Returns the deliveries created. Never raises: a failure here is
    logged with its traceback and the caller's work goes on (in its own savepoint, so a database
    error here does not poison the caller's transaction).
    """
    try:
        with transaction.atomic():
            return _create_deliveries(
                event_type=event_type, brand=brand, data=data, event_id=event_id
            )
    except Exception:
        logger.exception(
            "webhook event %s of brand %s could not be queued",
            event_type,
            getattr(brand, "pk", None),
        )
        return []


@transaction.atomic
def endpoint_send_test(*, endpoint: WebhookEndpoint, by) -> Delivery:
    """A `ping` event to this endpoint only, to check the receiver and its signature check."""
    if not endpoint.is_active:
        raise ValidationError("Enable the endpoint before sending it a test event.")
    event_id = uuid.uuid4()
    who = (by.get_full_name() or by.get_username()) if by is not None else "agency"
    now = timezone.now()
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        brand=endpoint.brand,
        event_type=EventType.PING,
        event_id=event_id,
        payload=_envelope(
            event_type=EventType.PING,
            event_id=event_id,
            brand=endpoint.brand,
            agency_id=endpoint.agency_id,
            data={"message": f"Test event sent by {who}.", "endpoint_id": str(endpoint.pk)},
        ),
        next_attempt_at=now,
        enqueued_at=now,
    )
    _audit(
        endpoint, by=by, action="webhook_endpoint.test_sent", data={"delivery": str(delivery.pk)}
    )
    _enqueue_on_commit([delivery.pk])
    return delivery


@transaction.atomic
def delivery_replay(*, delivery: Delivery, by) -> Delivery:
    """Send a delivery that has ended (succeeded or failed) once more, with the same delivery id
    and body, so a receiver that lost it can have it and one that has it can drop it."""
    if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, is_active=True).exists():
        raise ValidationError("Enable the endpoint before replaying its deliveries.")
    now = timezone.now()
    # The row's own columns only (see _claim): two replays at once make one.
    replayed = Delivery.objects.filter(pk=delivery.pk, state__in=[S.SUCCEEDED, S.FAILED]).update(
        state=S.PENDING,
        replaying=True,
        next_attempt_at=now,
        enqueued_at=now,
        lease_expires_at=None,
        updated_at=now,
    )
    if not replayed:
        delivery.refresh_from_db()
        raise ValidationError(
            f"Only a delivery that succeeded or failed can be replayed; this one is "
            f"{delivery.get_state_display().lower()} and will be sent by itself."
        )
    audit_log(
        actor=by,
        action="webhook_delivery.replayed",
        target=delivery,
        agency=delivery.endpoint.agency,
        brand=delivery.brand,
        data={"event_type": delivery.event_type, "event_id": str(delivery.event_id)},
    )
    _enqueue_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


# -- delivering ----------------------------------------------------------------------------------


def _claim(delivery_id, now: datetime) -> bool:
    if not WebhookEndpoint.objects.filter(deliveries=delivery_id, is_active=True).exists():
        return False  # disabled: its deliveries wait
    # Only the row's own columns in this WHERE: a condition through a join would make Django
    # write `id IN (subquery)`, which PostgreSQL does not re-check against the row another
    # worker has just claimed, and both would send. A second of slack: a countdown task may
    # wake a hair before the stored time.
    return bool(
        Delivery.objects.filter(
            pk=delivery_id,
            state=S.PENDING,
            next_attempt_at__lte=now + timedelta(seconds=1),
        ).update(
            state=S.DELIVERING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + timedelta(seconds=lease_seconds()),
            updated_at=now,
        )
    )


def _read_excerpt(response: requests.Response) -> str:
    try:
        chunk = next(response.iter_content(chunk_size=4 * EXCERPT_CHARS), b"")
    except requests.RequestException:
        chunk = b""
    finally:
        response.close()
    if isinstance(chunk, str):
        chunk = chunk.encode()
    return chunk.decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def _post(delivery: Delivery) -> tuple[int | None, str, str]:
    """Send the delivery once: (status code or None, response excerpt, error in words or "")."""
    endpoint = delivery.endpoint
    if not _private_targets_allowed():
        host = urlsplit(endpoint.url).hostname or ""
        refused = _refused_address(host)
        if refused:
            return (
                None,
                "",
                (
                    f"Not sent: {host} resolves to {refused}, a private address. Webhooks go to "
                    "public addresses only."
                ),
            )
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Agency-Event": delivery.event_type,
        "X-Agency-Delivery": str(delivery.pk),
        "X-Agency-Timestamp": timestamp,
        "X-Agency-Signature": sign(secret=endpoint.secret, timestamp=timestamp, body=body),
    }
    timeout = float(_setting("WEBHOOK_TIMEOUT_SECONDS", 10.0))
    try:
        response = requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(min(timeout, 5.0), timeout),
            # A redirect could lead anywhere (an internal address among others); register the
            # final URL instead.
            allow_redirects=False,
            stream=True,
        )
    except requests.Timeout:
        return None, "", f"No answer within {timeout:g} s."
    except requests.ConnectionError as exc:
        return None, "", f"Could not connect to {urlsplit(endpoint.url).netloc}: {exc}"[:2000]
    except requests.RequestException as exc:
        return None, "", f"The request failed: {exc}"[:2000]
    excerpt = _read_excerpt(response)
    code = response.status_code
    if 200 <= code < 300:
        return code, excerpt, ""
    reason = f" {response.reason}" if response.reason else ""
    if 300 <= code < 400:
        return (
            code,
            excerpt,
            (
                f"The endpoint answered {code}{reason} (a redirect to "
                f"{response.headers.get('Location', 'elsewhere')}); redirects are not followed, "
                "register the final URL."
            ),
        )
    return code, excerpt, f"The endpoint answered {code}{reason}."


def delivery_attempt(*, delivery_id) -> str:
    """Send one due delivery once. Returns the state it ended in, or "skipped" when it was not
    due, not pending, or another worker has it."""
    started = timezone.now()
    if not _claim(delivery_id, started):
        return "skipped"
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    clock = time.monotonic()
    try:
        code, excerpt, error = _post(delivery)
    except Exception as exc:
        # A bug of ours: record it on the delivery (and in the log) rather than leave it hanging.
        logger.exception("webhook delivery %s crashed", delivery_id)
        code, excerpt, error = None, "", f"Internal error while sending: {exc}"
    duration_ms = int((time.monotonic() - clock) * 1000)
    return _finish(
        delivery,
        started=started,
        duration_ms=duration_ms,
        code=code,
        excerpt=excerpt,
        error=error,
    )


@transaction.atomic
def _finish(
    delivery: Delivery,
    *,
    started: datetime,
    duration_ms: int | None,
    code: int | None,
    excerpt: str,
    error: str,
) -> str:
    now = timezone.now()
    trigger = DeliveryAttempt.Trigger.REPLAY if delivery.replaying else None
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        trigger=trigger or DeliveryAttempt.Trigger.AUTOMATIC,
        started_at=started,
        duration_ms=duration_ms,
        status_code=code,
        response_excerpt=excerpt,
        error=error,
        succeeded=not error,
    )
    result = {
        "last_status_code": code,
        "last_response_excerpt": excerpt,
        "lease_expires_at": None,
        "replaying": False,
        "updated_at": now,
    }
    mine = Delivery.objects.filter(pk=delivery.pk, state=S.DELIVERING)
    if not error:
        # Also from pending: the sweep may have taken it back after a lease ran out while the
        # endpoint was answering; it did get it, so it is not sent again.
        Delivery.objects.filter(pk=delivery.pk, state__in=[S.DELIVERING, S.PENDING]).update(
            state=S.SUCCEEDED, delivered_at=now, next_attempt_at=None, last_error="", **result
        )
        return S.SUCCEEDED
    if delivery.replaying or delivery.attempts >= max_attempts():
        give_up = "" if delivery.replaying else f" Gave up after {delivery.attempts} attempts."
        mine.update(state=S.FAILED, next_attempt_at=None, last_error=f"{error}{give_up}", **result)
        return S.FAILED
    wait = backoff_seconds(delivery.attempts)
    due = now + timedelta(seconds=wait)
    countdown = wait <= MAX_COUNTDOWN_SECONDS
    moved = mine.update(
        state=S.PENDING,
        next_attempt_at=due,
        # Enqueued now with a countdown, or left for the sweep to enqueue once due.
        enqueued_at=due if countdown else None,
        last_error=f"{error} Trying again in {_in_words(wait)}.",
        **result,
    )
    if moved and countdown:
        transaction.on_commit(lambda: _enqueue_later(delivery.pk, wait), robust=True)
    return S.PENDING


def _in_words(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _enqueue_later(delivery_id, countdown: float) -> None:
    from integrations.tasks import deliver_webhook

    deliver_webhook.apply_async((str(delivery_id),), countdown=countdown)


def deliveries_sweep(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Recover what crashes and lost tasks leave behind. Run periodically by beat.

    - delivering with an expired lease: the worker died mid-call -> pending (or failed when out
      of attempts), with an attempt row saying so
    - pending, due, and not enqueued recently: its task was lost or never made -> enqueued
    """
    now = now or timezone.now()
    recovered = 0
    expired = Delivery.objects.filter(state=S.DELIVERING, lease_expires_at__lt=now)
    for delivery_id, attempts, claimed_at, replaying in expired.values_list(
        "pk", "attempts", "updated_at", "replaying"
    )[:limit]:
        message = "The worker stopped before the endpoint answered."
        with transaction.atomic():
            out_of_tries = replaying or attempts >= max_attempts()
            moved = Delivery.objects.filter(
                pk=delivery_id, state=S.DELIVERING, lease_expires_at__lt=now
            ).update(
                state=S.FAILED if out_of_tries else S.PENDING,
                next_attempt_at=None if out_of_tries else now,
                enqueued_at=None,
                lease_expires_at=None,
                replaying=False,
                last_error=message,
                updated_at=now,
            )
            if not moved:
                continue
            recovered += 1
            DeliveryAttempt.objects.create(
                delivery_id=delivery_id,
                number=attempts,
                trigger=(
                    DeliveryAttempt.Trigger.REPLAY
                    if replaying
                    else DeliveryAttempt.Trigger.AUTOMATIC
                ),
                started_at=claimed_at,
                error=message,
            )
    stale = now - timedelta(seconds=lease_seconds())
    with transaction.atomic():
        due = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=S.PENDING, next_attempt_at__lte=now, endpoint__is_active=True)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if due:
            Delivery.objects.filter(pk__in=due).update(enqueued_at=now)
            _enqueue_on_commit(due)
    return {"recovered": recovered, "enqueued": len(due)}
