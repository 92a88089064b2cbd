"""Dashboard pages of outgoing webhooks, under /settings/webhooks/.

Staff of the agency read the endpoints and their deliveries; its admins add, change, disable
them, rotate secrets, replay deliveries and send test events. Another agency's endpoint is a 404,
and a brand's client users never get here (ClientPortalOnlyMiddleware, and they are nobody's
staff, so every lookup below is a 404 for them anyway). A secret is shown once, in the answer
that made it, and never again.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agency.forms import attach_service_errors
from agency.models import Role
from integrations import selectors, services
from integrations.forms import DeliveryFilterForm, EndpointEditForm, EndpointForm

DELIVERIES_PER_PAGE = 25


def _can_write(user, endpoint) -> bool:
    return selectors.staff_role(user=user, agency_id=endpoint.agency_id) == Role.ADMIN


@login_required
@require_GET
def endpoint_list(request):
    endpoints = list(selectors.endpoints_for_user(user=request.user))
    admin_of = set(selectors.admin_agencies_for(user=request.user).values_list("pk", flat=True))
    if not endpoints and not admin_of and not selectors.is_staff(user=request.user):
        # Nobody's staff (a client): nothing here is theirs to know about.
        raise PermissionDenied("Webhooks are set up by the agency's admins.")
    return render(
        request,
        "integrations/endpoint_list.html",
        {"endpoints": endpoints, "can_create": bool(admin_of), "admin_of": admin_of},
    )


def _form_kwargs(user) -> dict:
    return {
        "agencies": selectors.admin_agencies_for(user=user),
        "brands": selectors.endpoint_brands_for_user(user=user),
    }


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_create(request):
    kwargs = _form_kwargs(request.user)
    if not kwargs["agencies"].exists():
        raise PermissionDenied("Only an agency admin can add webhook endpoints.")
    form = EndpointForm(request.POST or None, **kwargs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = services.endpoint_create(
                agency=data["agency"],
                brand=data["brand"],
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                by=request.user,
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            # Rendered, not redirected: the secret exists in clear only in this response.
            return render(
                request,
                "integrations/endpoint_secret.html",
                {"endpoint": endpoint, "secret": secret, "created": True},
            )
    return render(request, "integrations/endpoint_form.html", {"form": form, "endpoint": None})


def _deliveries_context(request, endpoint) -> dict:
    filters = DeliveryFilterForm(request.GET or None)
    deliveries = selectors.deliveries_for_endpoint(endpoint=endpoint)
    if filters.is_valid():
        if filters.cleaned_data["state"]:
            deliveries = deliveries.filter(state=filters.cleaned_data["state"])
        if filters.cleaned_data["event_type"]:
            deliveries = deliveries.filter(event_type=filters.cleaned_data["event_type"])
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "endpoint": endpoint,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "in_flight": any(d.state in ("pending", "delivering") for d in page.object_list),
        "can_write": _can_write(request.user, endpoint),
    }


@login_required
@require_GET
def endpoint_detail(request, endpoint_id):
    endpoint = selectors.endpoint_for_user(user=request.user, endpoint_id=endpoint_id)
    return render(
        request, "integrations/endpoint_detail.html", _deliveries_context(request, endpoint)
    )


@login_required
@require_GET
def endpoint_deliveries(request, endpoint_id):
    """The deliveries table alone: HTMX polls it while something is on its way."""
    endpoint = selectors.endpoint_for_user(user=request.user, endpoint_id=endpoint_id)
    return render(request, "integrations/_deliveries.html", _deliveries_context(request, endpoint))


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_edit(request, endpoint_id):
    endpoint = selectors.endpoint_for_user(user=request.user, endpoint_id=endpoint_id, write=True)
    initial = {
        "url": endpoint.url,
        "brand": endpoint.brand_id,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
    }
    form = EndpointEditForm(request.POST or None, initial=initial, **_form_kwargs(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(endpoint=endpoint, by=request.user, data=form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, "The endpoint was saved.")
            return redirect("integrations:endpoint-detail", endpoint_id=endpoint.pk)
    return render(request, "integrations/endpoint_form.html", {"form": form, "endpoint": endpoint})


@login_required
@require_POST
def endpoint_toggle(request, endpoint_id):
    endpoint = selectors.endpoint_for_user(user=request.user, endpoint_id=endpoint_id, write=True)
    active = not endpoint.is_active
    services.endpoint_set_active(endpoint=endpoint, active=active, by=request.user)
    messages.success(
        request,
        "The endpoint is enabled: events go out to it again, the ones queued meanwhile first."
        if active
        else "The endpoint is disabled: new events are not queued for it, and queued ones wait.",
    )
    return redirect("integrations:endpoint-detail", endpoint_id=endpoint.pk)


@login_required
@require_POST
def endpoint_rotate_secret(request, endpoint_id):
    endpoint = selectors.endpoint_for_user(user=request.user, endpoint_id=endpoint_id, write=True)
    secret = services.endpoint_rotate_secret(endpoint=endpoint, by=request.user)
    return render(
        request,
        "integrations/endpoint_secret.html",
        {"endpoint": endpoint, "secret": secret, "created": False},
    )


@login_required
@require_POST
def endpoint_test(request, endpoint_id):
    endpoint = selectors.endpoint_for_user(user=request.user, endpoint_id=endpoint_id, write=True)
    try:
        delivery = services.endpoint_send_test(endpoint=endpoint, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("integrations:endpoint-detail", endpoint_id=endpoint.pk)
    messages.success(request, "A test event is on its way; its delivery is below.")
    return redirect("integrations:delivery-detail", delivery_id=delivery.pk)


@login_required
@require_GET
def delivery_detail(request, delivery_id):
    delivery = selectors.delivery_for_user(user=request.user, delivery_id=delivery_id)
    return render(
        request, "integrations/delivery_detail.html", _delivery_context(request, delivery)
    )


def _delivery_context(request, delivery) -> dict:
    return {
        "delivery": delivery,
        "endpoint": delivery.endpoint,
        "payload": json.dumps(delivery.payload, indent=2, sort_keys=True),
        "can_write": _can_write(request.user, delivery.endpoint),
        "in_flight": delivery.state in ("pending", "delivering"),
    }


@login_required
@require_GET
def delivery_status(request, delivery_id):
    """The delivery's state and attempts alone: HTMX polls it while it is on its way."""
    delivery = selectors.delivery_for_user(user=request.user, delivery_id=delivery_id)
    return render(
        request, "integrations/_delivery_status.html", _delivery_context(request, delivery)
    )


@login_required
@require_POST
def delivery_replay(request, delivery_id):
    delivery = selectors.delivery_for_user(user=request.user, delivery_id=delivery_id, write=True)
    try:
        services.delivery_replay(delivery=delivery, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, "Sent again with the same delivery id; the new attempt shows below."
        )
    if request.htmx:
        delivery = selectors.delivery_for_user(user=request.user, delivery_id=delivery_id)
        context = {**_delivery_context(request, delivery), "htmx_messages": True}
        return render(request, "integrations/_delivery_status.html", context)
    return redirect("integrations:delivery-detail", delivery_id=delivery.pk)
