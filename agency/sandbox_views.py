from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from agency.models import SandboxPost
from agency.permissions import brands_for_user


@login_required
def sandbox_post(request, post_id):
    """What a post looks like 'on' the sandbox platform: the URL a published target links to."""
    post = get_object_or_404(
        SandboxPost.objects.select_related("account__brand").filter(
            account__brand__in=brands_for_user(user=request.user).values("pk")
        ),
        pk=post_id,
    )
    return render(request, "agency/sandbox_post.html", {"sandbox_post": post})
