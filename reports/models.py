"""Daily metric snapshots, synced from the platforms; idempotent per (object, date)."""

from django.db import models

from agency.models import SocialAccount
from calendar_app.models import PostTarget


class AccountMetricsDaily(models.Model):
    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="daily")
    date = models.DateField()
    followers = models.PositiveIntegerField(null=True, blank=True)
    impressions = models.PositiveBigIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    engagements = models.PositiveBigIntegerField(default=0)
    profile_views = models.PositiveBigIntegerField(default=0)
    link_clicks = models.PositiveBigIntegerField(default=0)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="account_metrics_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.date}"


class PostMetricsDaily(models.Model):
    """Cumulative totals of one published target as of that day."""

    id = models.BigAutoField(primary_key=True)
    target = models.ForeignKey(PostTarget, on_delete=models.CASCADE, related_name="daily")
    date = models.DateField()
    impressions = models.PositiveBigIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    engagements = models.PositiveBigIntegerField(default=0)
    link_clicks = models.PositiveBigIntegerField(default=0)
    video_views = models.PositiveBigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target", "date"]
        constraints = [
            models.UniqueConstraint(fields=["target", "date"], name="post_metrics_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.target_id} {self.date}"
