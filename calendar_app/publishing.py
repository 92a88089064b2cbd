"""The publishing engine: every state change of a PostTarget, and the calls to the platforms.

    draft -> scheduled -> queued -> publishing -> published | failed | unconfirmed
    (any pending state) -> cancelled

Exactly once comes from three rules:
1. Every transition is one conditional UPDATE from the states it may leave (`_move`). Whoever
   loses the race sees 0 rows and stops, so two dispatchers or two copies of a task cannot both
   publish a target.
2. The platform call happens outside any transaction or lock, after the target was claimed as
   `publishing` with a lease. If a worker dies mid-call, the lease runs out and the target
   becomes `unconfirmed`: it is never retried blindly.
3. An unconfirmed target is settled by asking the platform (`find_published` with the target's
   idempotency key). Only a platform that can say "surely not published" gets a retry; the rest
   wait for a person.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from agency.models import SocialAccount
from agency.platforms import MediaItem, PostPayload, PublishResult, get_adapter
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    Rejected,
    TransientError,
    secrets_scrubbed,
)
from agency.retry import jittered_backoff
from calendar_app import publishing_sql
from calendar_app.models import PostTarget, PublishAttempt, TargetState
from integrations import events as webhook_events

logger = logging.getLogger(__name__)

S = TargetState
PENDING_STATES = (S.DRAFT, S.SCHEDULED, S.QUEUED)


def _setting(name: str, default):
    return getattr(settings, name, default)


def _move(target_id, *, frm: tuple[str, ...] | str, to: str, **fields) -> bool:
    """One legal transition as a conditional UPDATE. True if this caller made it."""
    frm = (frm,) if isinstance(frm, str) else frm
    fields.setdefault("updated_at", timezone.now())
    return bool(PostTarget.objects.filter(pk=target_id, state__in=frm).update(state=to, **fields))


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    return jittered_backoff(
        attempt,
        base=_setting("PUBLISH_BACKOFF_BASE_SECONDS", 30.0),
        cap=_setting("PUBLISH_BACKOFF_CAP_SECONDS", 3600.0),
        retry_after=retry_after,
    )


# -- dispatch ------------------------------------------------------------------------------------


def dispatch_due(*, now: datetime | None = None, limit: int | None = None) -> list:
    """Claim due targets (scheduled -> queued) and enqueue one publish task each after commit.

    `SELECT ... FOR UPDATE SKIP LOCKED` lets several dispatchers run at once without waiting on
    or double-claiming each other's rows; the conditional UPDATE keeps SQLite (no row locks)
    just as safe. Targets of accounts that are not connected are held where they are.
    """
    now = now or timezone.now()
    limit = limit or dispatch_batch_size()
    with transaction.atomic():
        due = (
            PostTarget.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                state=S.SCHEDULED,
                due_at__lte=now,
                account__status=SocialAccount.Status.CONNECTED,
            )
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        ids = list(due)
        if not ids:
            return []
        PostTarget.objects.filter(pk__in=ids, state=S.SCHEDULED).update(
            state=S.QUEUED, queued_at=now, updated_at=now
        )
        transaction.on_commit(lambda: _enqueue_publish(ids))
    return ids


def dispatch_batch_size() -> int:
    return _setting("PUBLISH_DISPATCH_BATCH", 1000)


def _enqueue_publish(ids) -> None:
    from calendar_app.tasks import publish_target

    # One producer (one broker connection) for the whole batch instead of one per message.
    with publish_target.app.producer_or_acquire() as producer:
        for target_id in ids:
            publish_target.apply_async((str(target_id),), producer=producer)


_adapters = threading.local()


def adapter_for(platform: str):
    """One adapter per platform per worker thread, so its HTTP session keeps connections alive
    between publishes (adapters are not shared across threads: requests.Session isn't safe)."""
    cache = _adapters.__dict__.setdefault("by_platform", {})
    if platform not in cache:
        cache[platform] = get_adapter(platform)
    return cache[platform]


# -- publish -------------------------------------------------------------------------------------


def _media_of(target: PostTarget) -> list:
    """The target's own media if it has any, else the post's. A target loaded by
    `_target_for_publish` says whether either exists, so a post without media costs no query."""
    has_override = getattr(target, "has_media_override", None)
    has_post_media = getattr(target, "has_post_media", None)
    if has_override is None or has_post_media is None:
        return list(target.media_override.all()) or list(target.post.media.all())
    if has_override:
        return list(target.media_override.all())
    return list(target.post.media.all()) if has_post_media else []


def _claim(target_id, *, now: datetime, lease_until: datetime) -> PostTarget | None:
    """`queued -> publishing` with a lease, and the target with everything a publish reads;
    None if another worker or a cancel moved it first. `now` is the claim time, which is also
    the attempt's start: the sweeper finds the try of a killed worker by it."""
    if publishing_sql.available():
        return publishing_sql.claim_and_load(target_id, now=now, lease_until=lease_until)
    claimed = _move(
        target_id,
        frm=S.QUEUED,
        to=S.PUBLISHING,
        lease_expires_at=lease_until,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return _target_for_publish(target_id) if claimed else None


def _target_for_publish(target_id) -> PostTarget:
    """The target with everything a publish reads, in one SELECT."""
    media_through = PostTarget.media_override.through
    post_media_through = PostTarget.post.field.related_model.media.through
    return (
        PostTarget.objects.select_related("post", "account", "post__brand")
        .annotate(
            has_media_override=Exists(media_through.objects.filter(posttarget_id=OuterRef("pk"))),
            has_post_media=Exists(post_media_through.objects.filter(post_id=OuterRef("post_id"))),
        )
        .get(pk=target_id)
    )


def payload_for(target: PostTarget) -> PostPayload:
    from calendar_app.utm import link_with_utm

    media = _media_of(target)
    post = target.post
    link = link_with_utm(
        link=post.link,
        template=post.brand.utm_template,
        platform=target.account.platform,
        account=target.account.handle,
        campaign=post.title or (post.tags[0] if post.tags else ""),
        post=str(post.pk)[:8],
    )
    text = target.effective_text
    if post.link and link != post.link and post.link in text:
        # The link written into the text gets the same parameters as the link field.
        text = text.replace(post.link, link)
    return PostPayload(
        text=text,
        link=link or None,
        media=tuple(
            MediaItem(
                path=m.file.path if m.file else m.name,
                mime_type=m.mime_type,
                size=m.size,
                width=m.width,
                height=m.height,
                duration=m.duration,
                alt_text=m.alt_text,
                url=f"{settings.SITE_URL.rstrip('/')}{m.file.url}" if m.file else "",
            )
            for m in media
        ),
        first_comment=target.first_comment or None,
    )


def publish_target(*, target_id, worker: str = "") -> str:
    """Publish one queued target once. Returns the state it ended in (or "lost" if another
    worker had it)."""
    now = timezone.now()
    lease = timedelta(seconds=_setting("PUBLISH_LEASE_SECONDS", 300))
    target = _claim(target_id, now=now, lease_until=now + lease)
    if target is None:
        return "lost"
    # The attempt row is written once, with its result, in the same transaction as the target's
    # final state (`_settle`). A worker that dies before that leaves the target `publishing`, and
    # the sweeper writes the row for the killed try when the lease runs out.
    attempt = PublishAttempt(target=target, started_at=now, worker=worker or socket.gethostname())
    try:
        adapter = adapter_for(target.account.platform)
        payload = payload_for(target)
    except Exception as exc:
        logger.exception("could not prepare target %s", target_id)
        return _fail(target, attempt, f"The post could not be prepared: {exc}", error=exc)

    # The platform call: outside any transaction, so no lock is held while we wait on it.
    try:
        with secrets_scrubbed(target.account):
            result = adapter.publish(
                target.account, payload, idempotency_key=str(target.idempotency_key)
            )
    except RateLimited as exc:
        return _retry_later(target, attempt, exc, retry_after=exc.retry_after)
    except TransientError as exc:
        return _retry_later(target, attempt, exc)
    except AuthExpired as exc:
        return _hold_for_reauth(target, attempt, exc)
    except Rejected as exc:
        if exc.duplicate:
            return _duplicate(target, attempt, exc)
        return _fail(target, attempt, f"{target.account} refused the post: {exc}", error=exc)
    except OutcomeUnknown as exc:
        return _unconfirmed(target, attempt, str(exc), error=exc)
    except Exception as exc:
        # A bug or an unmapped error inside the adapter: the request may have gone out.
        logger.exception("unexpected error publishing target %s", target_id)
        return _unconfirmed(target, attempt, f"Unexpected error while publishing: {exc}", error=exc)
    return _published(target, attempt, result)


def _finish_attempt(
    attempt: PublishAttempt,
    result: str,
    error: Exception | None = None,
    *,
    swept: bool = False,
    save: bool = True,
) -> None:
    """Write the attempt row with its result. `swept`: the target left `publishing` without us,
    so the sweeper may already have written a row for this try (by its start): that row is
    corrected instead of a second one written."""
    attempt.finished_at = timezone.now()
    attempt.result = result
    if error is not None:
        attempt.error_class = error.__class__.__name__
        attempt.error_message = str(error)[:2000]
        if isinstance(error, PlatformError):
            attempt.http_status = error.status
            attempt.response_excerpt = error.excerpt
    if swept and attempt.pk is None:
        attempt.pk = (
            PublishAttempt.objects.filter(
                target_id=attempt.target_id, started_at=attempt.started_at
            )
            .values_list("pk", flat=True)
            .first()
        )
    if save:
        attempt.save()


def _settle(
    target: PostTarget,
    attempt: PublishAttempt,
    result: str,
    *,
    error: Exception | None = None,
    to: str,
    **fields,
) -> bool:
    """Move a target out of `publishing` and record how the attempt ended, both or neither."""
    if publishing_sql.available():
        fields = {"state": to, "updated_at": timezone.now(), **fields}
        _finish_attempt(attempt, result, error, save=False)
        if publishing_sql.settle_and_record(
            target.pk, frm=S.PUBLISHING, fields=fields, attempt=attempt
        ):
            return True
        # The sweeper took the target in between: correct its row for this try (below).
        fields.pop("state")
    with transaction.atomic():
        moved = _move(target.pk, frm=S.PUBLISHING, to=to, **fields)
        _finish_attempt(attempt, result, error, swept=not moved)
    return moved


def _published(target: PostTarget, attempt: PublishAttempt, result: PublishResult) -> str:
    now = timezone.now()
    fields = {
        "to": S.PUBLISHED,
        "external_id": result.external_id,
        "external_url": result.url[:1000],
        "published_at": now,
        "lease_expires_at": None,
        "last_error": "",
        "needs_attention": False,
    }
    moved = _settle(target, attempt, PublishAttempt.Result.PUBLISHED, **fields)
    if not moved:
        # The lease ran out while the platform was answering and the sweeper marked it
        # unconfirmed; we know better, so settle it (the sweeper's row was corrected above).
        moved = _move(target.pk, frm=S.UNCONFIRMED, **fields)
    if not moved:
        # The reconciler settled it in between (it will have found the post by its key). Say so.
        logger.warning("target %s published but its state had moved on", target.pk)
    if moved:
        webhook_events.post_published(target=target)
    first_comment_error = result.raw.get("first_comment_error") if result.raw else None
    if first_comment_error:
        PostTarget.objects.filter(pk=target.pk).update(
            last_error=f"Published, but the first comment failed: {first_comment_error}"
        )
    return S.PUBLISHED


def _retry_later(
    target: PostTarget, attempt: PublishAttempt, error: PlatformError, retry_after=None
) -> str:
    max_attempts = _setting("PUBLISH_MAX_ATTEMPTS", 6)
    if target.attempts >= max_attempts:
        return _fail(
            target,
            attempt,
            f"{target.account} kept refusing for now ({error}); gave up after "
            f"{target.attempts} attempts. Press Retry to try again.",
            error=error,
        )
    wait = backoff_seconds(target.attempts, retry_after=retry_after)
    _settle(
        target,
        attempt,
        PublishAttempt.Result.RETRY,
        error=error,
        to=S.SCHEDULED,
        due_at=timezone.now() + timedelta(seconds=wait),
        lease_expires_at=None,
        last_error=f"{error} Trying again in {int(wait)} s.",
    )
    return S.SCHEDULED


def _hold_for_reauth(target: PostTarget, attempt: PublishAttempt, error: PlatformError) -> str:
    from agency.services import social_account_mark_needs_reauth

    social_account_mark_needs_reauth(account=target.account, reason=str(error))
    # Back to scheduled, not failed: the dispatcher skips accounts that are not connected, so the
    # post waits and goes out as soon as someone reconnects the account.
    _settle(
        target,
        attempt,
        PublishAttempt.Result.HELD,
        error=error,
        to=S.SCHEDULED,
        due_at=timezone.now(),
        lease_expires_at=None,
        last_error=f"Held: {target.account} needs reconnecting ({error}).",
    )
    return S.SCHEDULED


def _fail(target: PostTarget, attempt: PublishAttempt, message: str, error=None) -> str:
    _settle(
        target,
        attempt,
        PublishAttempt.Result.FAILED,
        error=error,
        to=S.FAILED,
        lease_expires_at=None,
        last_error=message,
        needs_attention=True,
    )
    webhook_events.post_failed(target=target)
    _tell_people(
        target,
        title=f"Post failed on {target.account}",
        body=f"{message}\n\nOpen the post to edit it or press Retry.",
    )
    return S.FAILED


def _duplicate(target: PostTarget, attempt: PublishAttempt, error: Rejected) -> str:
    """The platform already has this exact post. After an attempt whose outcome we never learnt,
    that is our own earlier post: settle it rather than call it a failure."""
    earlier_unknown = target.attempts_log.filter(result=PublishAttempt.Result.UNCONFIRMED).exists()
    if not earlier_unknown:
        return _fail(
            target,
            attempt,
            f"{target.account} refuses it as identical to a recent post ({error}). "
            "Change the text and retry.",
            error=error,
        )
    if error.duplicate_of:
        _settle(
            target,
            attempt,
            PublishAttempt.Result.PUBLISHED,
            error=error,
            to=S.PUBLISHED,
            external_id=error.duplicate_of,
            published_at=timezone.now(),
            lease_expires_at=None,
            last_error="",
            needs_attention=False,
        )
        webhook_events.post_published(target=target)
        return S.PUBLISHED
    _settle(
        target,
        attempt,
        PublishAttempt.Result.UNCONFIRMED,
        error=error,
        to=S.UNCONFIRMED,
        lease_expires_at=None,
        due_at=None,
        needs_attention=True,
        last_error=(
            f"{target.account} says this post is already there, so an earlier attempt most "
            "likely published it. Check the account, then press Mark as published."
        ),
    )
    return S.UNCONFIRMED


def _unconfirmed(target: PostTarget, attempt: PublishAttempt, message: str, error=None) -> str:
    _settle(
        target,
        attempt,
        PublishAttempt.Result.UNCONFIRMED,
        error=error,
        to=S.UNCONFIRMED,
        lease_expires_at=None,
        platform_hints=getattr(error, "hints", None) or {},
        due_at=timezone.now(),
        last_error=f"{message} Checking with {target.account.get_platform_display()} "
        "whether it was published.",
    )
    return S.UNCONFIRMED


def _tell_people(target: PostTarget, *, title: str, body: str) -> None:
    from agency.services import brand_managers, notify

    users = list(brand_managers(brand=target.post.brand))
    if target.post.author_id and target.post.author not in users:
        users.append(target.post.author)
    notify(
        users=users,
        brand=target.post.brand,
        title=title,
        body=body,
        url=reverse("calendar:post-detail", args=[target.post_id]),
    )


# -- recovery ------------------------------------------------------------------------------------


def reconcile_unconfirmed(*, target_id) -> str:
    """Ask the platform whether an unconfirmed target was published, and settle it if it can."""
    target = PostTarget.objects.select_related("post", "account", "post__brand").get(pk=target_id)
    if target.state != S.UNCONFIRMED:
        return target.state
    adapter = get_adapter(target.account.platform)
    try:
        with secrets_scrubbed(target.account):
            found = adapter.find_published(
                target.account,
                idempotency_key=str(target.idempotency_key),
                payload=payload_for(target),
                **(target.platform_hints or {}),
            )
    except (OutcomeUnknown, TransientError, RateLimited, AuthExpired) as exc:
        return _needs_person(target, f"The platform cannot tell us: {exc}")
    if found is not None:
        now = timezone.now()
        _move(
            target.pk,
            frm=S.UNCONFIRMED,
            to=S.PUBLISHED,
            external_id=found.external_id,
            external_url=found.url[:1000],
            published_at=now,
            last_error="",
            needs_attention=False,
        )
        webhook_events.post_published(target=target)
        return S.PUBLISHED
    # The platform says it surely does not have it: publishing again cannot make a duplicate.
    _move(
        target.pk,
        frm=S.UNCONFIRMED,
        to=S.SCHEDULED,
        due_at=timezone.now(),
        last_error="Not found on the platform after an unanswered attempt; trying again.",
    )
    return S.SCHEDULED


def _needs_person(target: PostTarget, reason: str) -> str:
    first_time = bool(
        PostTarget.objects.filter(pk=target.pk, state=S.UNCONFIRMED, needs_attention=False).update(
            needs_attention=True,
            # No automatic re-check; a person decides.
            due_at=None,
            last_error=(
                f"We could not confirm whether this was published on {target.account}. "
                f"{reason} Check the account, then press Retry or Mark as published."
            ),
        )
    )
    if first_time:
        _tell_people(
            target,
            title=f"Check whether a post went out on {target.account}",
            body="The platform did not confirm the post and cannot be asked. Open the post, "
            "check the account, then press Retry or Mark as published.",
        )
    return S.UNCONFIRMED


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Recover what crashes leave behind. Run periodically by beat.

    - publishing with an expired lease: the worker died mid-call -> unconfirmed (then reconciled)
    - queued for too long: the task was lost (broker restart) -> scheduled again
    - unconfirmed and due for a check -> reconciled
    """
    now = now or timezone.now()
    stale_queue = now - timedelta(seconds=_setting("PUBLISH_QUEUED_STALE_SECONDS", 600))
    expired = PostTarget.objects.filter(state=S.PUBLISHING, lease_expires_at__lt=now)
    lost = 0
    # One by one (crashes are rare): the row for the killed try is written only by whoever moved
    # the target, in the same transaction, so a worker that finishes late corrects it (see
    # `_finish_attempt`) instead of adding a second row for the same try.
    for target_id, claimed_at in expired.values_list("pk", "updated_at"):
        with transaction.atomic():
            if not PostTarget.objects.filter(
                pk=target_id, state=S.PUBLISHING, lease_expires_at__lt=now
            ).update(
                state=S.UNCONFIRMED,
                lease_expires_at=None,
                due_at=now,
                last_error="The worker stopped while publishing; checking whether it went out.",
                updated_at=now,
            ):
                continue
            lost += 1
            message = "The worker stopped before the platform answered."
            # Rows left open by an engine that wrote them at the start of the try.
            closed = PublishAttempt.objects.filter(
                target_id=target_id,
                result=PublishAttempt.Result.STARTED,
                finished_at__isnull=True,
            ).update(
                result=PublishAttempt.Result.UNCONFIRMED, finished_at=now, error_message=message
            )
            if not closed:
                PublishAttempt.objects.create(
                    target_id=target_id,
                    # The claim stamped updated_at with the attempt's start.
                    started_at=claimed_at,
                    finished_at=now,
                    result=PublishAttempt.Result.UNCONFIRMED,
                    error_message=message,
                )
    requeued = PostTarget.objects.filter(state=S.QUEUED, queued_at__lt=stale_queue).update(
        state=S.SCHEDULED, due_at=now, updated_at=now
    )
    to_check = list(
        PostTarget.objects.filter(state=S.UNCONFIRMED, needs_attention=False)
        .filter(Q(due_at__lte=now) | Q(due_at__isnull=True))
        .values_list("pk", flat=True)[:500]
    )
    for target_id in to_check:
        try:
            reconcile_unconfirmed(target_id=target_id)
        except Exception:
            logger.exception("could not reconcile target %s", target_id)
    return {"lost": lost, "requeued": requeued, "reconciled": len(to_check)}
