from agency.permissions import brands_for_user


def dashboard(request):
    """The brand switcher and role-aware navigation of base.html."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Evaluated lazily by the template, once per page.
    brands = brands_for_user(user=user).only("id", "name", "slug", "agency_id")
    current_id = request.session.get("current_brand_id")
    return {
        # Set by reports.middleware at login: a client who is nobody's staff sees only the
        # portal's links, even on the few shared pages (approvals, PDF export).
        "portal_only": request.session.get("reports.portal_only", False),
        "switcher_brands": brands,
        "current_brand_id": current_id,
        "unread_notifications": user.notifications.filter(read_at__isnull=True).count,
    }
