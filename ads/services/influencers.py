"""Influencers (an agency-wide directory) and the brands' collaborations with them: deliverables,
promo codes, tracked links and the sales attributed to them.

    influencer = influencer_create(agency=agency, by=user, name="Ann", handles={"tiktok": "@ann"})
    collab = collaboration_create(brand=brand, by=user, influencer=influencer, name="Spring",
                                  start_date=date(2025, 3, 1), fee=Decimal("500"),
                                  promo_code="ANN10", link_destination="https://shop.example/")
    result = sales_import(brand=brand, by=user, data=csv_bytes)  # every row checked first

Callers check access first (agency.permissions for brands, and
ads.selectors.influencer_agencies_for_user for the directory). A promo code is unique per brand
whatever its case; two writers are kept apart by locking the brand's row, as the table has no
case-insensitive constraint.
"""

from __future__ import annotations

import codecs
import copy
import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ads.models import AttributedSale, Collaboration, Deliverable, Influencer, TrackedLink
from agency.common import model_update
from agency.models import Agency, Brand
from agency.services import audit_log

__all__ = [
    "INFLUENCER_PLATFORMS",
    "SALES_IMPORT_COLUMNS",
    "SALES_IMPORT_MAX_BYTES",
    "SALES_IMPORT_MAX_ROWS",
    "SalesImportResult",
    "attributed_sale_create",
    "collaboration_create",
    "collaboration_delete",
    "collaboration_update",
    "deliverable_create",
    "deliverable_delete",
    "deliverable_update",
    "influencer_create",
    "influencer_delete",
    "influencer_update",
    "sales_import",
]

# The networks an influencer's handle may be given for; anything else is a typo to point out.
INFLUENCER_PLATFORMS = {
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "x": "X",
    "facebook": "Facebook",
    "linkedin": "LinkedIn",
    "threads": "Threads",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "pinterest": "Pinterest",
    "twitch": "Twitch",
    "snapchat": "Snapchat",
}
_HANDLE = re.compile(r"^\S{1,100}$")

SALES_IMPORT_MAX_ROWS = 10_000
SALES_IMPORT_MAX_BYTES = 5 * 1024 * 1024
SALES_IMPORT_COLUMNS = ("date", "order_ref", "amount", "currency", "promo_code", "collaboration")
# A file with every row wrong must not bury the page; the first ones are enough to fix it.
_MAX_REPORTED_ERRORS = 50
_CURRENCY = re.compile(r"^[A-Z]{3}$")

INFLUENCER_FIELDS = ["name", "handles", "audience_size", "rate", "currency", "notes"]
COLLABORATION_FIELDS = [
    "influencer",
    "name",
    "start_date",
    "end_date",
    "fee",
    "currency",
    "promo_code",
    "tracked_link",
]
DELIVERABLE_FIELDS = ["description", "due_date", "status", "url"]


# -- influencers ---------------------------------------------------------------------------------


def _clean_handles(handles: Any) -> dict[str, str]:
    if handles in (None, ""):
        return {}
    if not isinstance(handles, dict):
        raise ValidationError({"handles": ["Give the handles as platform: handle pairs."]})
    cleaned: dict[str, str] = {}
    errors = []
    for platform, handle in handles.items():
        key = str(platform).strip().lower()
        value = str(handle or "").strip()
        if key not in INFLUENCER_PLATFORMS:
            errors.append(
                f"“{platform}” is not a platform we know; use one of "
                f"{', '.join(sorted(INFLUENCER_PLATFORMS))}."
            )
        elif not _HANDLE.match(value):
            errors.append(
                f"The {INFLUENCER_PLATFORMS[key]} handle must be 1 to 100 characters "
                "without spaces."
            )
        else:
            cleaned[key] = value
    if errors:
        raise ValidationError({"handles": errors})
    return cleaned


def _money_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("currency"):
        fields["currency"] = str(fields["currency"]).strip().upper()
    return fields


@transaction.atomic
def influencer_create(
    *,
    agency: Agency,
    by,
    name: str,
    handles: dict[str, str] | None = None,
    audience_size: int = 0,
    rate: Decimal | None = None,
    currency: str = "EUR",
    notes: str = "",
) -> Influencer:
    fields = _money_fields(
        {
            "name": " ".join(name.split()),
            "handles": _clean_handles(handles),
            "audience_size": audience_size or 0,
            "rate": rate,
            "currency": currency,
            "notes": notes.strip(),
        }
    )
    if fields["rate"] is not None and fields["rate"] < 0:
        raise ValidationError({"rate": ["A rate cannot be negative."]})
    influencer = Influencer(agency=agency, **fields)
    influencer.full_clean()
    influencer.save()
    audit_log(actor=by, action="influencer.created", target=influencer, agency=agency)
    return influencer


@transaction.atomic
def influencer_update(*, influencer: Influencer, by, data: dict[str, Any]) -> Influencer:
    data = _money_fields(dict(data))
    if "handles" in data:
        data["handles"] = _clean_handles(data["handles"])
    if "name" in data:
        data["name"] = " ".join(str(data["name"]).split())
    if data.get("rate") is not None and data["rate"] < 0:
        raise ValidationError({"rate": ["A rate cannot be negative."]})
    influencer, changed = model_update(instance=influencer, fields=INFLUENCER_FIELDS, data=data)
    if changed:
        audit_log(
            actor=by,
            action="influencer.updated",
            target=influencer,
            agency=influencer.agency,
            data={"fields": changed},
        )
    return influencer


@transaction.atomic
def influencer_delete(*, influencer: Influencer, by) -> None:
    count = influencer.collaborations.count()
    if count:
        raise ValidationError(
            f"{influencer.name} has {count} collaboration(s); their history and revenue would "
            "be lost. Delete the collaborations first."
        )
    audit_log(actor=by, action="influencer.deleted", target=influencer, agency=influencer.agency)
    influencer.delete()


# -- collaborations ------------------------------------------------------------------------------


def _check_collaboration(collab: Collaboration, errors: dict[str, list[str]]) -> None:
    brand = collab.brand
    if collab.influencer_id and collab.influencer.agency_id != brand.agency_id:
        errors.setdefault("influencer", []).append(
            f"{collab.influencer.name} is in another agency's directory."
        )
    if collab.end_date and collab.start_date and collab.end_date < collab.start_date:
        errors.setdefault("end_date", []).append("The end date is before the start date.")
    if collab.fee is not None and collab.fee < 0:
        errors.setdefault("fee", []).append("A fee cannot be negative.")
    if collab.tracked_link_id and collab.tracked_link.brand_id != brand.pk:
        errors.setdefault("tracked_link", []).append(f"This link is not one of {brand.name}'s.")
    if collab.promo_code:
        # The brand's row is locked by the caller, so no other writer can slip in between.
        taken = (
            Collaboration.objects.filter(brand=brand, promo_code__iexact=collab.promo_code)
            .exclude(pk=collab.pk)
            .values_list("name", flat=True)
            .first()
        )
        if taken is not None:
            errors.setdefault("promo_code", []).append(
                f"The promo code {collab.promo_code} is already used by “{taken}” "
                f"({brand.name}'s promo codes are unique whatever their case)."
            )


def _lock_brand(brand: Brand) -> None:
    Brand.objects.select_for_update().filter(pk=brand.pk).values_list("pk").first()


@transaction.atomic
def collaboration_create(
    *,
    brand: Brand,
    by,
    influencer: Influencer,
    name: str,
    start_date: date,
    end_date: date | None = None,
    fee: Decimal = Decimal("0"),
    currency: str = "EUR",
    promo_code: str = "",
    tracked_link: TrackedLink | None = None,
    link_destination: str = "",
    link_code: str = "",
) -> Collaboration:
    """A collaboration; with `link_destination`, a new tracked link for it in the same step."""
    _lock_brand(brand)
    collab = Collaboration(
        brand=brand,
        influencer=influencer,
        name=" ".join(name.split()),
        start_date=start_date,
        end_date=end_date,
        fee=fee if fee is not None else Decimal("0"),
        currency=(currency or "EUR").strip().upper(),
        promo_code=(promo_code or "").strip(),
        tracked_link=tracked_link,
    )
    errors: dict[str, list[str]] = {}
    if tracked_link is not None and link_destination:
        errors["link_destination"] = ["Choose an existing link or give a destination, not both."]
    _check_collaboration(collab, errors)
    if errors:
        raise ValidationError(errors)
    if link_destination:
        from ads.services.links import tracked_link_create

        try:
            collab.tracked_link = tracked_link_create(
                brand=brand,
                by=by,
                destination=link_destination,
                code=link_code,
                name=f"{collab.influencer.name}: {collab.name}",
            )
        except ValidationError as exc:
            renamed = {"destination": "link_destination", "code": "link_code"}
            raise ValidationError(
                {renamed.get(k, k): v for k, v in exc.message_dict.items()}
            ) from exc
    collab.full_clean()
    collab.save()
    audit_log(
        actor=by,
        action="collaboration.created",
        target=collab,
        agency=brand.agency,
        brand=brand,
        data={
            "influencer": str(influencer.pk),
            "fee": str(collab.fee),
            "currency": collab.currency,
        },
    )
    return collab


@transaction.atomic
def collaboration_update(
    *, collaboration: Collaboration, by, data: dict[str, Any]
) -> Collaboration:
    _lock_brand(collaboration.brand)
    data = _money_fields(dict(data))
    if "promo_code" in data:
        data["promo_code"] = (data["promo_code"] or "").strip()
    if "name" in data:
        data["name"] = " ".join(str(data["name"]).split())
    # Checked on a copy, so a refused change leaves the caller's instance as it was.
    probe = copy.copy(collaboration)
    for field in COLLABORATION_FIELDS:
        if field in data:
            setattr(probe, field, data[field])
    errors: dict[str, list[str]] = {}
    _check_collaboration(probe, errors)
    if errors:
        raise ValidationError(errors)
    collaboration, changed = model_update(
        instance=collaboration, fields=COLLABORATION_FIELDS, data=data
    )
    if changed:
        audit_log(
            actor=by,
            action="collaboration.updated",
            target=collaboration,
            agency=collaboration.brand.agency,
            brand=collaboration.brand,
            data={"fields": changed},
        )
    return collaboration


@transaction.atomic
def collaboration_delete(*, collaboration: Collaboration, by) -> None:
    brand = collaboration.brand
    audit_log(
        actor=by,
        action="collaboration.deleted",
        target=collaboration,
        agency=brand.agency,
        brand=brand,
        data={"sales": collaboration.sales.count()},
    )
    collaboration.delete()


# -- deliverables --------------------------------------------------------------------------------


@transaction.atomic
def deliverable_create(
    *,
    collaboration: Collaboration,
    by,
    description: str,
    due_date: date,
    status: str = Deliverable.Status.PLANNED,
    url: str = "",
) -> Deliverable:
    deliverable = Deliverable(
        collaboration=collaboration,
        description=" ".join(description.split()),
        due_date=due_date,
        status=status or Deliverable.Status.PLANNED,
        url=(url or "").strip(),
    )
    _check_deliverable(deliverable)
    deliverable.full_clean()
    deliverable.save()
    brand = collaboration.brand
    audit_log(
        actor=by, action="deliverable.created", target=deliverable, agency=brand.agency, brand=brand
    )
    return deliverable


def _check_deliverable(deliverable: Deliverable) -> None:
    if deliverable.status == Deliverable.Status.LATE:
        # Late is what the dates say (ads.selectors.deliverables_late), not something to set.
        raise ValidationError(
            {"status": ["“Late” follows from the due date; choose where the work stands."]}
        )
    if deliverable.status == Deliverable.Status.PUBLISHED and not deliverable.url:
        raise ValidationError({"url": ["Give the link of the published content."]})


@transaction.atomic
def deliverable_update(*, deliverable: Deliverable, by, data: dict[str, Any]) -> Deliverable:
    data = dict(data)
    if "url" in data:
        data["url"] = (data["url"] or "").strip()
    probe = Deliverable(**{f: data.get(f, getattr(deliverable, f)) for f in DELIVERABLE_FIELDS})
    _check_deliverable(probe)
    deliverable, changed = model_update(instance=deliverable, fields=DELIVERABLE_FIELDS, data=data)
    if changed:
        brand = deliverable.collaboration.brand
        audit_log(
            actor=by,
            action="deliverable.updated",
            target=deliverable,
            agency=brand.agency,
            brand=brand,
            data={"fields": changed, "status": deliverable.status},
        )
    return deliverable


@transaction.atomic
def deliverable_delete(*, deliverable: Deliverable, by) -> None:
    brand = deliverable.collaboration.brand
    audit_log(
        actor=by, action="deliverable.deleted", target=deliverable, agency=brand.agency, brand=brand
    )
    deliverable.delete()


# -- attributed sales ----------------------------------------------------------------------------


@transaction.atomic
def attributed_sale_create(
    *,
    collaboration: Collaboration,
    by,
    date: date,
    order_ref: str,
    amount: Decimal,
    currency: str,
    via: str = "api",
) -> AttributedSale:
    order_ref = order_ref.strip()
    if collaboration.sales.filter(order_ref=order_ref).exists():
        raise ValidationError(
            {"order_ref": [f"Order {order_ref} is already counted for {collaboration.name}."]}
        )
    if amount is not None and amount < 0:
        raise ValidationError({"amount": ["An amount cannot be negative; leave refunds out."]})
    sale = AttributedSale(
        collaboration=collaboration,
        date=date,
        order_ref=order_ref,
        amount=amount,
        currency=(currency or "").strip().upper(),
        via=via,
    )
    sale.full_clean()
    sale.save()
    brand = collaboration.brand
    audit_log(
        actor=by,
        action="attributed_sale.created",
        target=sale,
        agency=brand.agency,
        brand=brand,
        data={"collaboration": str(collaboration.pk), "via": via},
    )
    return sale


@dataclass(frozen=True)
class SalesImportResult:
    created: int
    skipped: int


def _resolve_collaboration(
    row: dict[str, str],
    by_id: dict[str, Collaboration],
    by_name: dict[str, list[Collaboration]],
    by_code: dict[str, Collaboration],
) -> tuple[Collaboration | None, str]:
    code = row.get("promo_code", "").strip()
    named = row.get("collaboration", "").strip()
    found: Collaboration | None = None
    if named:
        try:
            found = by_id.get(str(uuid.UUID(named)))
        except ValueError:
            matches = by_name.get(named.casefold(), [])
            if len(matches) > 1:
                return None, f"several collaborations are called “{named}”: give its id instead"
            found = matches[0] if matches else None
        if found is None:
            return None, f"no collaboration “{named}” for this brand"
    if code:
        by_promo = by_code.get(code.casefold())
        if by_promo is None:
            return None, f"no collaboration of this brand has the promo code {code}"
        if found is not None and found.pk != by_promo.pk:
            return None, f"promo code {code} belongs to “{by_promo.name}”, not “{found.name}”"
        found = by_promo
    if found is None:
        return None, "give a promo_code or a collaboration"
    return found, ""


def _read_sales_csv(data: bytes) -> list[dict[str, str]]:
    if len(data) > SALES_IMPORT_MAX_BYTES:
        raise ValidationError(
            f"The file is larger than {SALES_IMPORT_MAX_BYTES // 1_048_576} MB; split it."
        )
    try:
        text = codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("The file is not UTF-8 text; save it as CSV (UTF-8).") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("date", "order_ref", "amount", "currency") if c not in header]
    if missing:
        raise ValidationError(
            f"The first line must name the columns; missing: {', '.join(missing)}."
        )
    if "promo_code" not in header and "collaboration" not in header:
        raise ValidationError("Add a promo_code or a collaboration column to attribute each sale.")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if len(rows) >= SALES_IMPORT_MAX_ROWS:
            raise ValidationError(f"At most {SALES_IMPORT_MAX_ROWS:,} rows per file; split it.")
        rows.append({k: (v or "").strip() for k, v in row.items() if isinstance(k, str)})
    if not rows:
        raise ValidationError("The file has no rows below its header.")
    return rows


@transaction.atomic
def sales_import(*, brand: Brand, by, data: bytes) -> SalesImportResult:
    """Sales from a CSV (date, order_ref, amount, currency, promo_code or collaboration).

    Every row is checked first; one bad row and nothing is saved (the ValidationError lists them
    by line). An order already counted for its collaboration, in the database or earlier in the
    file, is skipped and counted as such, so importing the same export twice adds nothing.
    """
    rows = _read_sales_csv(data)
    collaborations = list(Collaboration.objects.filter(brand=brand))
    by_id = {str(c.pk): c for c in collaborations}
    by_name: dict[str, list[Collaboration]] = {}
    by_code: dict[str, Collaboration] = {}
    for c in collaborations:
        by_name.setdefault(c.name.casefold(), []).append(c)
        if c.promo_code:
            by_code[c.promo_code.casefold()] = c
    existing = set(
        AttributedSale.objects.filter(
            collaboration__brand=brand, order_ref__in={r.get("order_ref", "") for r in rows}
        ).values_list("collaboration_id", "order_ref")
    )
    errors: list[str] = []
    sales: list[AttributedSale] = []
    skipped = 0
    for line, row in enumerate(rows, start=2):
        problems = []
        collab, problem = _resolve_collaboration(row, by_id, by_name, by_code)
        if problem:
            problems.append(problem)
        try:
            sold_on = date.fromisoformat(row.get("date", ""))
        except ValueError:
            problems.append(f"date “{row.get('date', '')}” is not YYYY-MM-DD")
            sold_on = None
        order_ref = row.get("order_ref", "")
        if not order_ref or len(order_ref) > 100:
            problems.append("order_ref must be 1 to 100 characters")
        try:
            amount = Decimal(row.get("amount", "").replace(",", ""))
            if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
                raise InvalidOperation
            if amount >= Decimal("1e12"):
                raise InvalidOperation
        except InvalidOperation:
            problems.append(
                f"amount “{row.get('amount', '')}” is not a non-negative number with at most "
                "two decimals"
            )
            amount = None
        currency = row.get("currency", "").upper()
        if not _CURRENCY.match(currency):
            problems.append(f"currency “{row.get('currency', '')}” is not a code such as EUR")
        if problems or collab is None or sold_on is None or amount is None:
            errors.append(f"Line {line}: {'; '.join(problems)}.")
            continue
        if (collab.pk, order_ref) in existing:
            skipped += 1
            continue
        existing.add((collab.pk, order_ref))
        sales.append(
            AttributedSale(
                collaboration=collab,
                date=sold_on,
                order_ref=order_ref,
                amount=amount,
                currency=currency,
                via="csv",
            )
        )
    if errors:
        more = len(errors) - _MAX_REPORTED_ERRORS
        shown = errors[:_MAX_REPORTED_ERRORS]
        if more > 0:
            shown.append(f"… and {more} more line(s) with errors.")
        raise ValidationError(["Nothing was imported.", *shown])
    # A concurrent import of the same orders loses the race quietly instead of failing.
    AttributedSale.objects.bulk_create(sales, ignore_conflicts=True)
    audit_log(
        actor=by,
        action="attributed_sale.imported",
        target=brand,
        agency=brand.agency,
        brand=brand,
        data={"created": len(sales), "skipped": skipped},
    )
    return SalesImportResult(created=len(sales), skipped=skipped)
