from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from agency.selectors import background_health, brands_with_account_counts


@login_required
def dashboard(request):
    return render(
        request,
        "agency/dashboard.html",
        {"brands": brands_with_account_counts(user=request.user), "health": background_health()},
    )


@require_GET
def healthz(request):
    """Liveness for load balancers and docker-compose: the database answers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
