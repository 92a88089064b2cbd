"""The marketer's side: paid campaigns and their targeting, insights, influencers and links.

Money is a Decimal with its ISO 4217 currency code beside it; amounts in different currencies
are never added up raw (see ads.selectors and CurrencyRate).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from agency.models import Agency, BaseModel, Brand

currency_code = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter currency code such as EUR.")
MONEY = {"max_digits": 14, "decimal_places": 2}


class AdPlatform(models.TextChoices):
    META = "meta", "Meta (Facebook and Instagram)"
    LINKEDIN = "linkedin", "LinkedIn"
    X = "x", "X"
    GOOGLE = "google", "Google"


class Objective(models.TextChoices):
    AWARENESS = "awareness", "Awareness"
    TRAFFIC = "traffic", "Traffic"
    ENGAGEMENT = "engagement", "Engagement"
    LEADS = "leads", "Leads"
    SALES = "sales", "Sales"


class BudgetKind(models.TextChoices):
    DAILY = "daily", "Daily"
    LIFETIME = "lifetime", "Lifetime"


class Campaign(BaseModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ENDED = "ended", "Ended"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=10, choices=AdPlatform.choices)
    objective = models.CharField(max_length=12, choices=Objective.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    budget_kind = models.CharField(max_length=8, choices=BudgetKind.choices)
    budget_amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code])
    external_id = models.CharField(max_length=100, blank=True)
    ad_account_id = models.CharField(
        max_length=100, blank=True, help_text="The platform's ad account (e.g. act_123 on Meta)."
    )
    agency_fee = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="What the agency charges for running it."
    )
    other_costs = models.DecimalField(**MONEY, default=Decimal("0"))
    revenue_override = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Revenue from the brand's own books; when empty, conversion value is used.",
    )
    boosted_post = models.ForeignKey(
        "calendar_app.Post",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="boost_campaigns",
    )
    pacing_alerted_at = models.DateTimeField(null=True, blank=True)
    over_budget_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="campaign_end_after_start",
            ),
            models.UniqueConstraint(
                fields=["brand", "platform", "external_id"],
                condition=~Q(external_id=""),
                name="campaign_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Audience(BaseModel):
    """A saved audience or persona, reusable across ad sets of the brand."""

    class Kind(models.TextChoices):
        SAVED = "saved", "Saved targeting"
        CUSTOM = "custom", "Custom audience"
        LOOKALIKE = "lookalike", "Lookalike audience"
        RETARGETING = "retargeting", "Retargeting audience"
        PERSONA = "persona", "Persona"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="audiences")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.TextField(blank=True)
    spec = models.JSONField(default=dict, blank=True, help_text="Targeting document or source.")
    external_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="audience_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class AdSet(BaseModel):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ad_sets")
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=8, choices=Campaign.Status.choices, default=Campaign.Status.DRAFT
    )
    budget_kind = models.CharField(max_length=8, choices=BudgetKind.choices, blank=True)
    budget_amount = models.DecimalField(**MONEY, null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    targeting = models.JSONField(
        default=dict, help_text="One validated document: see ads/targeting.py for its schema."
    )
    audiences = models.ManyToManyField(Audience, blank=True, related_name="ad_sets")
    external_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["campaign", "name"]

    def __str__(self) -> str:
        return self.name


class Ad(BaseModel):
    class CallToAction(models.TextChoices):
        LEARN_MORE = "learn_more", "Learn more"
        SHOP_NOW = "shop_now", "Shop now"
        SIGN_UP = "sign_up", "Sign up"
        CONTACT_US = "contact_us", "Contact us"
        DOWNLOAD = "download", "Download"
        BOOK_NOW = "book_now", "Book now"

    ad_set = models.ForeignKey(AdSet, on_delete=models.CASCADE, related_name="ads")
    name = models.CharField(max_length=200)
    creative_text = models.TextField(blank=True)
    link = models.URLField(max_length=2000, blank=True)
    media = models.ManyToManyField("calendar_app.Media", blank=True, related_name="ads")
    call_to_action = models.CharField(
        max_length=12, choices=CallToAction.choices, default=CallToAction.LEARN_MORE
    )
    boosted_post = models.ForeignKey(
        "calendar_app.Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="ads"
    )
    status = models.CharField(
        max_length=8, choices=Campaign.Status.choices, default=Campaign.Status.DRAFT
    )
    external_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["ad_set", "name"]

    def __str__(self) -> str:
        return self.name


class InsightDaily(models.Model):
    """One day of paid metrics of one ad (or of an ad set or campaign when synced at that
    level). Re-syncing a day replaces it."""

    id = models.BigAutoField(primary_key=True)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="insights")
    ad_set = models.ForeignKey(
        AdSet, on_delete=models.CASCADE, null=True, blank=True, related_name="insights"
    )
    ad = models.ForeignKey(
        Ad, on_delete=models.CASCADE, null=True, blank=True, related_name="insights"
    )
    date = models.DateField()
    impressions = models.PositiveBigIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    clicks = models.PositiveBigIntegerField(default=0)
    spend = models.DecimalField(**MONEY, default=Decimal("0"))
    conversions = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    conversion_value = models.DecimalField(**MONEY, default=Decimal("0"))
    currency = models.CharField(max_length=3, validators=[currency_code])
    source = models.CharField(max_length=10, default="api", help_text="api or csv")
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "ad_set", "ad", "date"],
                name="insight_one_row_per_object_day",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(fields=["brand", "date"], name="insight_brand_date"),
            models.Index(fields=["campaign", "date"], name="insight_campaign_date"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.date}"


class CurrencyRate(BaseModel):
    """The agency's own conversion rate: 1 unit of `currency` = `rate` units of `base`."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="currency_rates")
    currency = models.CharField(max_length=3, validators=[currency_code])
    base = models.CharField(max_length=3, validators=[currency_code])
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    valid_from = models.DateField()

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "currency", "base", "valid_from"], name="currency_rate_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="currency_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.base} from {self.valid_from}"


class Influencer(BaseModel):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="influencers")
    name = models.CharField(max_length=200)
    handles = models.JSONField(default=dict, help_text='{"instagram": "@name", ...}')
    audience_size = models.PositiveBigIntegerField(default=0)
    rate = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code])
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Collaboration(BaseModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="collaborations")
    influencer = models.ForeignKey(
        Influencer, on_delete=models.PROTECT, related_name="collaborations"
    )
    name = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    fee = models.DecimalField(**MONEY, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code])
    promo_code = models.CharField(max_length=50, blank=True)
    tracked_link = models.ForeignKey(
        "TrackedLink", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-start_date"]

    def __str__(self) -> str:
        return self.name


class Deliverable(BaseModel):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        LATE = "late", "Late"

    collaboration = models.ForeignKey(
        Collaboration, on_delete=models.CASCADE, related_name="deliverables"
    )
    description = models.CharField(max_length=300)
    due_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    url = models.URLField(max_length=1000, blank=True)

    class Meta:
        ordering = ["due_date"]

    def __str__(self) -> str:
        return self.description


class AttributedSale(BaseModel):
    """Revenue attributed to a collaboration (promo-code sales, imported CSV or API)."""

    collaboration = models.ForeignKey(Collaboration, on_delete=models.CASCADE, related_name="sales")
    date = models.DateField()
    order_ref = models.CharField(max_length=100)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_code])
    via = models.CharField(max_length=20, default="promo_code")

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(
                fields=["collaboration", "order_ref"], name="attributed_sale_unique_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_ref} {self.amount} {self.currency}"


class UtmPreset(BaseModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="utm_presets")
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=100, blank=True)
    medium = models.CharField(max_length=100, blank=True)
    campaign = models.CharField(max_length=100, blank=True)
    content = models.CharField(max_length=100, blank=True)
    term = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="utm_preset_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class TrackedLink(BaseModel):
    """A short link served by agency at /l/<code> that counts clicks and redirects."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="tracked_links")
    code = models.SlugField(max_length=32, unique=True)
    destination = models.URLField(max_length=2000, help_text="With its UTM parameters.")
    name = models.CharField(max_length=200, blank=True)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="links"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"/l/{self.code}"


class LinkClickDaily(models.Model):
    """Clicks per link per day; no personal data beyond the brand's privacy setting allows."""

    id = models.BigAutoField(primary_key=True)
    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="daily_clicks")
    date = models.DateField()
    clicks = models.PositiveBigIntegerField(default=0)
    unique_visitors = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["link", "date"], name="link_clicks_one_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.link} {self.date}: {self.clicks}"
