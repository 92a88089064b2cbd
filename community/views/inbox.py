"""The unified inbox: the filtered list, one conversation beside it, and the team's actions on
it. Staff only: a client never sees the inbox (403 on the list, 404 on a conversation).

Every page works without JavaScript (links and POST forms that redirect back); with HTMX the
list loads a conversation into the side panel, forms swap only the panel, and the list and the
thread poll for news every 10 seconds.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from agency.models import Role
from agency.permissions import Area, brand_for_user, can_write
from community import services
from community.forms import (
    AssignForm,
    InboxFilterForm,
    NoteForm,
    PriorityForm,
    ReplyForm,
    StatusForm,
    TagsForm,
)
from community.models import Conversation, Message, SavedReply
from community.selectors import workflow as selectors
from community.views.inbox_list import inbox_rows

PAGE_SIZE = 50
POLL_OVERLAP = timedelta(seconds=5)
STAFF_ONLY = "The inbox is for the agency's staff."


# -- helpers ----------------------------------------------------------------------------------


def _inbox_context(request) -> dict:
    """The filter form and one page of the list, for the inbox and the conversation pages."""
    brands = selectors.inbox_brands_for_user(user=request.user)
    if request.GET.get("brand"):
        # A brand of someone else is a 404, a brand the user only reads as a client a 403.
        brand = brand_for_user(user=request.user, brand_id=request.GET["brand"])
        if brand.user_role == Role.CLIENT:
            raise PermissionDenied(STAFF_ONLY)
    elif not brands.exists():
        raise PermissionDenied(STAFF_ONLY)
    data = request.GET if request.GET else {"status": Conversation.Status.OPEN}
    form = InboxFilterForm(
        data, brands=brands, staff=selectors.inbox_staff_for_user(user=request.user)
    )
    filters = form.filters()
    page = Paginator(
        selectors.inbox_conversations(user=request.user, filters=filters), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    query = urlencode(
        [(k, v) for k, v in request.GET.items() if k != "page"] if request.GET else data
    )
    return {
        "form": form,
        "page": page,
        "query": query,
        "rows": inbox_rows(page.object_list, query=query),
    }


def _conversation(request, conversation_id, *, write: bool = False):
    """The conversation (404 outside the user's inbox brands) and its brand with the user's
    role; write=True refuses (403) a role that only reads the inbox."""
    try:
        conversation = selectors.conversation_for_user(
            user=request.user, conversation_id=conversation_id
        )
    except Conversation.DoesNotExist as exc:
        raise Http404("No such conversation.") from exc
    brand = brand_for_user(
        user=request.user, brand_id=conversation.brand_id, write=write, area=Area.COMMUNITY
    )
    return conversation, brand


def _panel_context(request, conversation_id, **extra) -> dict:
    try:
        detail = selectors.conversation_detail(user=request.user, conversation_id=conversation_id)
    except Conversation.DoesNotExist as exc:
        raise Http404("No such conversation.") from exc
    conversation = detail.conversation
    brand = brand_for_user(user=request.user, brand_id=conversation.brand_id)
    adapter = _adapter_class(conversation.account.platform)
    reply_form = extra.pop("reply_form", None) or ReplyForm(
        initial={"text": _prefill(request, conversation, detail.saved_replies)}
    )
    return {
        "conversation": conversation,
        "detail": detail,
        "can_write": can_write(brand.user_role, Area.COMMUNITY),
        "sla_label": selectors.SlaState.LABELS[conversation.sla_state],
        "assign_form": AssignForm(
            initial={"assignee": conversation.assignee_id},
            options=selectors.assignee_options(brand=conversation.brand),
        ),
        "tags_form": TagsForm(initial={"tags": ", ".join(conversation.tags or [])}),
        "priority_form": PriorityForm(initial={"priority": conversation.priority}),
        "note_form": NoteForm(),
        "reply_form": reply_form,
        "statuses": Conversation.Status,
        "can_hide": getattr(adapter, "supports_hide", False),
        "can_like": getattr(adapter, "supports_like", False),
        "like_note": getattr(adapter, "like_unsupported_reason", ""),
        "poll_url": _poll_url(conversation, timezone.now() - POLL_OVERLAP),
        "filter_query": urlencode([(k, v) for k, v in request.GET.items() if k != "saved_reply"]),
        **extra,
    }


def _adapter_class(platform: str):
    from agency.platforms import adapter_class

    try:
        return adapter_class(platform)
    except ValueError:
        return None


def _prefill(request, conversation, saved_replies) -> str:
    """Without JavaScript the saved-reply picker is a link that adds ?saved_reply=<id>."""
    wanted = request.GET.get("saved_reply")
    for saved in saved_replies:
        if str(saved.pk) == wanted:
            rendered = services.saved_reply_render(saved_reply=saved, conversation=conversation)
            for problem in rendered.problems:
                messages.warning(request, problem)
            return str(rendered)
    return ""


def _poll_url(conversation, after) -> str:
    url = reverse("community:conversation-messages", args=[conversation.pk])
    return f"{url}?{urlencode({'after': after.isoformat()})}"


def _back(conversation, request) -> HttpResponse:
    url = reverse("community:conversation", args=[conversation.pk])
    query = request.POST.get("filters", "")
    return redirect(f"{url}?{query}" if query else url)


def _act(request, conversation, action, *, success: str):
    """Run one service on the conversation for a POST; its refusal is shown in words."""
    try:
        action(conversation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages) + " Nothing was changed.")
    else:
        messages.success(request, success)
    return _back(conversation, request)


def _refuse_form(request, conversation, form) -> HttpResponse:
    errors = " ".join(e for errs in form.errors.values() for e in errs)
    messages.error(request, f"{errors} Nothing was changed.")
    return _back(conversation, request)


# -- pages ------------------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request):
    context = _inbox_context(request)
    if request.htmx and request.htmx.target == "inbox-list":
        return render(request, "community/inbox/_list.html", context)
    return render(request, "community/inbox/inbox.html", context)


@login_required
@require_GET
def conversation_page(request, conversation_id):
    if request.htmx and request.htmx.target == "conversation-panel":
        context = _panel_context(request, conversation_id)
        return render(request, "community/inbox/_panel.html", context)
    context = _panel_context(request, conversation_id)
    context.update(_inbox_context(request))
    return render(request, "community/inbox/inbox.html", context)


@login_required
@require_GET
def conversation_messages(request, conversation_id):
    """The thread again when something changed since `after` (else 204, which HTMX ignores),
    with the poller's next `after` and a line for screen readers about what is new."""
    conversation, brand = _conversation(request, conversation_id)
    after = parse_datetime(request.GET.get("after", ""))
    if after is None or timezone.is_naive(after):
        return HttpResponseBadRequest("after must be an ISO date and time with its offset.")
    now = timezone.now()
    if not selectors.thread_changed_since(conversation=conversation, since=after):
        return HttpResponse(status=204)
    items = selectors.thread_items(conversation=conversation)
    new_inbound = [
        item
        for kind, item in items
        if kind == "message"
        and item.direction == Message.Direction.INBOUND
        and item.created_at > after
    ]
    adapter = _adapter_class(conversation.account.platform)
    return render(
        request,
        "community/inbox/_thread_update.html",
        {
            "conversation": conversation,
            "detail": {"items": items},
            "new_inbound": new_inbound,
            "poll_url": _poll_url(conversation, now - POLL_OVERLAP),
            "can_write": can_write(brand.user_role, Area.COMMUNITY),
            "can_hide": getattr(adapter, "supports_hide", False),
            "can_like": getattr(adapter, "supports_like", False),
            "like_note": getattr(adapter, "like_unsupported_reason", ""),
        },
    )


@login_required
@require_GET
def saved_reply_fill(request, conversation_id, saved_reply_id):
    """The reply box filled with a saved reply rendered for this conversation (HTMX swaps it
    in); unknown placeholders stay visible and are named under the box."""
    conversation, _ = _conversation(request, conversation_id, write=True)
    try:
        saved = SavedReply.objects.get(pk=saved_reply_id, brand=conversation.brand_id)
    except SavedReply.DoesNotExist as exc:
        raise Http404("No such saved reply.") from exc
    rendered = services.saved_reply_render(saved_reply=saved, conversation=conversation)
    if not request.htmx:
        url = reverse("community:conversation", args=[conversation.pk])
        return redirect(f"{url}?{urlencode({'saved_reply': saved.pk})}#reply-box")
    return render(
        request,
        "community/inbox/_reply_field.html",
        {
            "reply_form": ReplyForm(initial={"text": str(rendered)}),
            "problems": rendered.problems,
            "saved_reply": saved,
        },
    )


# -- actions ----------------------------------------------------------------------------------


@login_required
@require_POST
def conversation_assign(request, conversation_id):
    conversation, _ = _conversation(request, conversation_id, write=True)
    form = AssignForm(request.POST, options=selectors.assignee_options(brand=conversation.brand))
    if not form.is_valid():
        return _refuse_form(request, conversation, form)
    to = form.cleaned_data["assignee"]
    return _act(
        request,
        conversation,
        lambda c: services.conversation_assign(conversation=c, to=to, by=request.user),
        success=f"Assigned to {to.get_full_name() or to.get_username()}."
        if to
        else "Nobody is assigned now.",
    )


@login_required
@require_POST
def conversation_status(request, conversation_id):
    conversation, _ = _conversation(request, conversation_id, write=True)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, conversation, form)
    status = form.cleaned_data["status"]
    return _act(
        request,
        conversation,
        lambda c: services.conversation_set_status(conversation=c, status=status, by=request.user),
        success=f"Marked {Conversation.Status(status).label.lower()}.",
    )


@login_required
@require_POST
def conversation_priority(request, conversation_id):
    conversation, _ = _conversation(request, conversation_id, write=True)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, conversation, form)
    priority = form.cleaned_data["priority"]
    return _act(
        request,
        conversation,
        lambda c: services.conversation_set_priority(
            conversation=c, priority=priority, by=request.user
        ),
        success=f"Priority {Conversation.Priority(priority).label.lower()}.",
    )


@login_required
@require_POST
def conversation_tags(request, conversation_id):
    conversation, _ = _conversation(request, conversation_id, write=True)
    form = TagsForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, conversation, form)
    tags = form.cleaned_data["tags"]
    return _act(
        request,
        conversation,
        lambda c: services.conversation_set_tags(conversation=c, tags=tags, by=request.user),
        success="Tags saved.",
    )


@login_required
@require_POST
def conversation_note(request, conversation_id):
    conversation, _ = _conversation(request, conversation_id, write=True)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, conversation, form)
    text = form.cleaned_data["text"]
    return _act(
        request,
        conversation,
        lambda c: services.note_add(conversation=c, text=text, by=request.user),
        success="Internal note added.",
    )


@login_required
@require_POST
def conversation_reply(request, conversation_id):
    """Queue a reply: message_reply stores it as waiting to be sent and a task sends it once."""
    conversation, _ = _conversation(request, conversation_id, write=True)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, conversation, form)
    try:
        services.message_reply(
            conversation=conversation, text=form.cleaned_data["text"], by=request.user
        )
    except ValidationError as exc:
        # Keep what was written: the reply box shows it again with the reason.
        messages.error(request, " ".join(exc.messages) + " The reply was not sent.")
        context = _panel_context(request, conversation_id, reply_form=form)
        if request.htmx:
            # HTMX swaps only 2xx answers: the panel comes back with the reason inside it.
            return render(request, "community/inbox/_panel.html", context)
        context.update(_inbox_context(request))
        return render(request, "community/inbox/inbox.html", context, status=400)
    messages.success(request, "Reply queued: it will be sent in a moment.")
    return _back(conversation, request)


def _moderate(request, conversation_id, message_id, action, *, success: str):
    conversation, _ = _conversation(request, conversation_id, write=True)
    try:
        message = conversation.messages.select_related("account").get(pk=message_id)
    except Message.DoesNotExist as exc:
        raise Http404("No such message.") from exc
    value = request.POST.get("value", "1") != "0"
    return _act(
        request,
        conversation,
        lambda c: action(message, value),
        success=success if value else "Undone.",
    )


@login_required
@require_POST
def message_hide(request, conversation_id, message_id):
    return _moderate(
        request,
        conversation_id,
        message_id,
        lambda m, v: services.message_hide(message=m, hidden=v, by=request.user),
        success="Hidden on the platform.",
    )


@login_required
@require_POST
def message_like(request, conversation_id, message_id):
    return _moderate(
        request,
        conversation_id,
        message_id,
        lambda m, v: services.message_like(message=m, liked=v, by=request.user),
        success="Liked as the brand.",
    )


urlpatterns = [
    path("inbox/", inbox, name="inbox"),
    path("inbox/<uuid:conversation_id>/", conversation_page, name="conversation"),
    path(
        "inbox/<uuid:conversation_id>/messages/",
        conversation_messages,
        name="conversation-messages",
    ),
    path(
        "inbox/<uuid:conversation_id>/saved-reply/<uuid:saved_reply_id>/",
        saved_reply_fill,
        name="saved-reply-fill",
    ),
    path("inbox/<uuid:conversation_id>/assign/", conversation_assign, name="conversation-assign"),
    path("inbox/<uuid:conversation_id>/status/", conversation_status, name="conversation-status"),
    path(
        "inbox/<uuid:conversation_id>/priority/",
        conversation_priority,
        name="conversation-priority",
    ),
    path("inbox/<uuid:conversation_id>/tags/", conversation_tags, name="conversation-tags"),
    path("inbox/<uuid:conversation_id>/notes/", conversation_note, name="conversation-note"),
    path("inbox/<uuid:conversation_id>/reply/", conversation_reply, name="conversation-reply"),
    path(
        "inbox/<uuid:conversation_id>/messages/<uuid:message_id>/hide/",
        message_hide,
        name="message-hide",
    ),
    path(
        "inbox/<uuid:conversation_id>/messages/<uuid:message_id>/like/",
        message_like,
        name="message-like",
    ),
]
