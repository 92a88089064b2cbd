"""Demo data for `make run`: one agency, three brands with sandbox accounts, one user per role.

`demo_data_load` is idempotent: it finds each row by its natural key and creates only what is
missing, so it runs on every start without duplicating anything or undoing a user's edits.
Its passwords are public (README.md lists them): the command refuses to run unless DEBUG is on.
"""

from dataclasses import dataclass
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.db import transaction

from agency.models import Agency, Brand, ClientAccess, Membership, Platform, Role, SocialAccount
from agency.services import brand_create, social_account_create

DEMO_AGENCY = {"slug": "northwind", "name": "Northwind Social"}

DEMO_BRANDS: list[dict[str, Any]] = [
    {
        "slug": "acme-coffee",
        "name": "Acme Coffee",
        "time_zone": "Europe/Berlin",
        "website": "https://acme-coffee.example.com",
        "contact_email": "hello@acme-coffee.example.com",
        "primary_color": "#6f4e37",
        "secondary_color": "#f5deb3",
        "accounts": [
            {
                "handle": "@acmecoffee",
                "display_name": "Acme Coffee",
                "bio": "Small-batch roasters in Berlin since 2009. Brewing a better Monday.",
                "link": "https://acme-coffee.example.com",
            },
            {
                "handle": "@acmecoffee_cafes",
                "display_name": "Acme Coffee Cafés",
                "bio": "Opening hours, seasonal drinks and latte art from our four cafés.",
                "link": "https://acme-coffee.example.com/cafes",
            },
            {
                "handle": "@acmecoffee_jobs",
                "display_name": "Acme Coffee Careers",
                "bio": "Baristas, roasters and drivers wanted. Free coffee, obviously.",
                "link": "https://acme-coffee.example.com/jobs",
            },
        ],
    },
    {
        "slug": "blue-bikes",
        "name": "Blue Bikes",
        "time_zone": "America/New_York",
        "website": "https://bluebikes.example.com",
        "contact_email": "ride@bluebikes.example.com",
        "primary_color": "#1d4ed8",
        "secondary_color": "#facc15",
        "accounts": [
            {
                "handle": "@bluebikes",
                "display_name": "Blue Bikes NYC",
                "bio": "City bikes built in Brooklyn. Ride more, park less.",
                "link": "https://bluebikes.example.com",
            },
            {
                "handle": "@bluebikes_help",
                "display_name": "Blue Bikes Support",
                "bio": "Questions about your order or a repair? We answer 8am-8pm ET.",
                "link": "https://bluebikes.example.com/support",
            },
        ],
    },
    {
        "slug": "casa-verde",
        "name": "Casa Verde",
        "time_zone": "Europe/Madrid",
        "website": "https://casaverde.example.com",
        "contact_email": "hola@casaverde.example.com",
        "primary_color": "#15803d",
        "secondary_color": "#fde68a",
        "accounts": [
            {
                "handle": "@casaverde",
                "display_name": "Casa Verde",
                "bio": "Plantas de interior y macetas hechas a mano en Madrid.",
                "link": "https://casaverde.example.com",
            },
            {
                "handle": "@casaverde_es",
                "display_name": "Casa Verde Tienda",
                "bio": "Envíos a toda España en 48 h. Consejos de riego cada jueves.",
                "link": "https://casaverde.example.com/tienda",
            },
        ],
    },
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str
    first_name: str
    last_name: str


# Fixed and public on purpose, so the README can list the logins.
DEMO_USERS = [
    DemoUser("admin", Role.ADMIN, "admin-demo-pass", "Ada", "Admin"),
    DemoUser("manager", Role.MANAGER, "manager-demo-pass", "Max", "Manager"),
    DemoUser("marketer", Role.MARKETER, "marketer-demo-pass", "Mia", "Marketer"),
    DemoUser("client", Role.CLIENT, "client-demo-pass", "Carl", "Client"),
]


def _say(stdout: TextIO | None, line: str) -> None:
    if stdout is not None:
        stdout.write(line + "\n")


def _demo_user(*, spec: DemoUser, agency: Agency, client_brand: Brand, reset_password: bool):
    user_model = get_user_model()
    user = user_model.objects.filter(username=spec.username).first()
    created = user is None
    if created:
        user = user_model(
            username=spec.username,
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=f"{spec.username}@northwind.example.com",
            # The demo admin also gets Django's admin site, so every table can be inspected.
            is_staff=spec.role == Role.ADMIN,
            is_superuser=spec.role == Role.ADMIN,
        )
    if created or reset_password:
        user.set_password(spec.password)
        user.save()
    if spec.role == Role.CLIENT:
        ClientAccess.objects.get_or_create(user=user, brand=client_brand)
    else:
        Membership.objects.update_or_create(user=user, agency=agency, defaults={"role": spec.role})
    return user, created


def demo_posts_load(
    *, agency: Agency, brands: list[Brand], by, stdout: TextIO | None = None
) -> int:
    """Demo posts, created by the calendar app's own services; returns how many were new."""
    # Imported here: the shared kernel does not depend on the calendar app, only its demo does.
    from calendar_app.demo import demo_posts_load as calendar_demo_posts

    return calendar_demo_posts(brands=brands, by=by)


def demo_metrics_load(*, brands: list[Brand]) -> None:
    """Sixty days of sandbox metrics, so the reports have something to show on first run.
    Brands that already have metrics are left alone (the beat task keeps them current)."""
    from reports.models import AccountMetricsDaily
    from reports.services import metrics_backfill

    for brand in brands:
        if not AccountMetricsDaily.objects.filter(account__brand=brand).exists():
            metrics_backfill(brand=brand, days=60)


@transaction.atomic
def demo_data_load(*, stdout: TextIO | None = None, reset_passwords: bool = False) -> dict:
    """Create whatever is missing of the demo agency, brands, accounts and users."""
    agency, agency_created = Agency.objects.get_or_create(
        slug=DEMO_AGENCY["slug"], defaults={"name": DEMO_AGENCY["name"]}
    )

    brands: list[Brand] = []
    accounts: list[SocialAccount] = []
    created = {"agency": int(agency_created), "brands": 0, "accounts": 0, "users": 0}
    for spec in DEMO_BRANDS:
        fields = {k: v for k, v in spec.items() if k != "accounts"}
        brand = Brand.objects.filter(agency=agency, slug=spec["slug"]).first()
        if brand is None:
            brand = brand_create(agency=agency, by=None, **fields)
            created["brands"] += 1
        brands.append(brand)
        for n, account_spec in enumerate(spec["accounts"], start=1):
            account = SocialAccount.objects.filter(
                brand=brand, platform=Platform.SANDBOX, handle=account_spec["handle"]
            ).first()
            if account is None:
                slug = account_spec["handle"].lstrip("@")
                account = social_account_create(
                    brand=brand,
                    by=None,
                    platform=Platform.SANDBOX,
                    external_id=f"sandbox-{slug}",
                    # Fake on purpose: the sandbox platform accepts any token and calls no one.
                    access_token=f"sandbox-access-{slug}-{n}",
                    refresh_token=f"sandbox-refresh-{slug}-{n}",
                    **account_spec,
                )
                created["accounts"] += 1
            accounts.append(account)

    users = []
    for spec in DEMO_USERS:
        user, user_created = _demo_user(
            spec=spec, agency=agency, client_brand=brands[0], reset_password=reset_passwords
        )
        created["users"] += int(user_created)
        users.append(
            {
                "user": user,
                "username": spec.username,
                "role": spec.role,
                "password": spec.password,
                "created": user_created,
            }
        )

    admin = users[0]["user"]
    created["posts"] = demo_posts_load(agency=agency, brands=brands, by=admin, stdout=stdout)
    demo_metrics_load(brands=brands)

    _say(
        stdout,
        f"Demo data: {agency.name}, {len(brands)} brands, {len(accounts)} sandbox accounts, "
        f"{len(users)} users (created now: {created['brands']} brands, "
        f"{created['accounts']} accounts, {created['users']} users, {created['posts']} posts).",
    )
    _say(stdout, demo_logins_table(users=users, client_brand=brands[0]))
    if not reset_passwords and not all(u["created"] for u in users):
        _say(stdout, "Existing users kept their passwords; --reset-passwords sets these again.")
    return {
        "agency": agency,
        "brands": brands,
        "accounts": accounts,
        "users": users,
        "created": created,
    }


def demo_logins_table(*, users: list[dict], client_brand: Brand) -> str:
    rows = [("username", "role", "password")]
    for u in users:
        role = Role(u["role"]).label
        if u["role"] == Role.CLIENT:
            role += f" of {client_brand.name}"
        rows.append((u["username"], role, u["password"]))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
