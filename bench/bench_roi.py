"""KPI/ROI benchmark: the selectors against the same aggregate in hand-written SQL.

    DJANGO_SETTINGS_MODULE=tests.settings python bench/bench_roi.py [--campaigns 20]
        [--ads 50] [--days 1000] [--runs 7]

Runs against DATABASE_URL (PostgreSQL is what counts; SQLite without it) in a fresh test
database that it creates, migrates and drops. One brand; campaigns x ads x days InsightDaily
rows (1,000,000 by default), loaded with COPY on PostgreSQL (bulk_create in batches elsewhere).
Every 10th campaign runs in USD with two EUR rates over time, so the currency conversion is
really exercised. It times, as the median of --runs warm runs:

  brand_kpis      selectors.brand_kpis over the whole period (per campaign, in EUR)
  campaign_kpis   selectors.campaign_kpis of one campaign over the whole period
  sql             the same reads hand-written (cursor.execute): the same aggregate grouped
                  by campaign, currency and rate, with rates looked up by a correlated
                  subquery only for rows in another currency (plus, for brand_kpis, the same
                  small lookup of the campaigns' fee rates)
  naive sql       a plain SUM with no currency handling (wrong with mixed currencies; shown
                  for the cost of doing it right)

and prints a markdown table. Nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == REPO_ROOT / "bench":
    sys.path[0] = str(REPO_ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

START = date(2022, 1, 1)

BRAND_SQL = """
SELECT i.campaign_id, i.currency, i.rate,
       SUM(i.impressions), SUM(i.clicks), SUM(i.spend), SUM(i.conversions),
       SUM(i.conversion_value), MIN(i.date), MAX(c.name), MAX(c.currency), MAX(c.agency_fee),
       MAX(c.other_costs), MAX(c.revenue_override)
FROM (
  SELECT s.*, CASE WHEN s.currency = %(target)s THEN 1 ELSE (
      SELECT cr.rate FROM ads_currencyrate cr
      WHERE cr.agency_id = %(agency)s AND cr.currency = s.currency AND cr.base = %(target)s
        AND cr.valid_from <= s.date
      ORDER BY cr.valid_from DESC LIMIT 1) END AS rate
  FROM ads_insightdaily s
  WHERE s.brand_id = %(brand)s AND s.date BETWEEN %(start)s AND %(end)s
) i JOIN ads_campaign c ON c.id = i.campaign_id
GROUP BY i.campaign_id, i.currency, i.rate
"""

FEE_RATES_SQL = """
SELECT currency, rate FROM ads_currencyrate
WHERE agency_id = %(agency)s AND currency IN ('USD') AND base = %(target)s
  AND valid_from <= %(end)s ORDER BY currency, valid_from DESC
"""

CAMPAIGN_SQL = """
SELECT i.currency, i.rate, SUM(i.impressions), SUM(i.clicks), SUM(i.spend),
       SUM(i.conversions), SUM(i.conversion_value)
FROM (
  SELECT s.*, CASE WHEN s.currency = %(target)s THEN 1 ELSE (
      SELECT cr.rate FROM ads_currencyrate cr
      WHERE cr.agency_id = %(agency)s AND cr.currency = s.currency AND cr.base = %(target)s
        AND cr.valid_from <= s.date
      ORDER BY cr.valid_from DESC LIMIT 1) END AS rate
  FROM ads_insightdaily s WHERE s.campaign_id = %(campaign)s
) i GROUP BY i.currency, i.rate
"""

NAIVE_SQL = """
SELECT SUM(impressions), SUM(clicks), SUM(spend), SUM(conversions), SUM(conversion_value)
FROM ads_insightdaily WHERE brand_id = %(brand)s AND date BETWEEN %(start)s AND %(end)s
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--campaigns", type=int, default=20)
    p.add_argument("--ads", type=int, default=50)
    p.add_argument("--days", type=int, default=1000)
    p.add_argument("--runs", type=int, default=7)
    return p.parse_args()


def median_ms(fn, runs: int) -> float:
    fn()  # warm: plan cache, buffers
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def load(args, connection):
    from ads.models import Ad, AdSet, Campaign, CurrencyRate, InsightDaily
    from tests.factories import AgencyFactory, BrandFactory

    agency = AgencyFactory(slug="bench-roi")
    brand = BrandFactory(agency=agency, slug="bench-roi")
    CurrencyRate.objects.create(
        agency=agency, currency="USD", base="EUR", rate=Decimal("0.9"), valid_from=START
    )
    CurrencyRate.objects.create(
        agency=agency,
        currency="USD",
        base="EUR",
        rate=Decimal("0.85"),
        valid_from=START + timedelta(days=args.days // 2),
    )
    campaigns, ads = [], []
    for c in range(args.campaigns):
        currency = "USD" if c % 10 == 9 else "EUR"
        campaign = Campaign.objects.create(
            brand=brand,
            name=f"Campaign {c}",
            platform="meta",
            objective="sales",
            status="active",
            start_date=START,
            budget_kind="daily",
            budget_amount=Decimal("500"),
            currency=currency,
            agency_fee=Decimal("1000"),
            other_costs=Decimal("250"),
        )
        ad_set = AdSet.objects.create(campaign=campaign, name="Set")
        campaigns.append(campaign)
        ads += [
            (campaign, ad_set, Ad.objects.create(ad_set=ad_set, name=f"Ad {a}"), currency)
            for a in range(args.ads)
        ]
    total = len(ads) * args.days
    t0 = time.perf_counter()
    if connection.vendor == "postgresql":
        columns = (
            "brand_id, campaign_id, ad_set_id, ad_id, date, impressions, reach, clicks, spend, "
            "conversions, conversion_value, currency, source, synced_at"
        )
        with connection.cursor() as cursor:
            for campaign, ad_set, ad, currency in ads:
                buf = io.StringIO()
                for d in range(args.days):
                    n = (d * 7 + hash(ad.pk) % 97) % 100
                    buf.write(
                        f"{brand.pk}\t{campaign.pk}\t{ad_set.pk}\t{ad.pk}\t"
                        f"{START + timedelta(days=d)}\t{1000 + n * 10}\t{800 + n}\t{n}\t"
                        f"{n * 0.37:.2f}\t{n % 5}\t{(n % 5) * 12.5:.2f}\t{currency}\tapi\t"
                        "2025-01-01 00:00:00+00\n"
                    )
                buf.seek(0)
                # psycopg2's COPY: the raw cursor under Django's wrapper.
                cursor.cursor.copy_expert(f"COPY ads_insightdaily ({columns}) FROM STDIN", buf)
            cursor.execute("ANALYZE ads_insightdaily")
    else:
        batch = []
        for campaign, ad_set, ad, currency in ads:
            for d in range(args.days):
                n = d % 100
                batch.append(
                    InsightDaily(
                        brand=brand,
                        campaign=campaign,
                        ad_set=ad_set,
                        ad=ad,
                        date=START + timedelta(days=d),
                        impressions=1000 + n * 10,
                        clicks=n,
                        spend=Decimal(n) * Decimal("0.37"),
                        conversions=n % 5,
                        conversion_value=Decimal(n % 5) * Decimal("12.5"),
                        currency=currency,
                    )
                )
                if len(batch) >= 10000:
                    InsightDaily.objects.bulk_create(batch)
                    batch = []
        InsightDaily.objects.bulk_create(batch)
    return brand, campaigns, total, time.perf_counter() - t0


def run(args, connection) -> None:
    from ads import selectors

    brand, campaigns, total, load_s = load(args, connection)
    end = START + timedelta(days=args.days - 1)
    usd = next((c for c in campaigns if c.currency == "USD"), campaigns[0])

    def key(pk):
        return pk.hex if connection.vendor == "sqlite" else pk

    params = {
        "brand": key(brand.pk),
        "agency": key(brand.agency_id),
        "start": START,
        "end": end,
        "target": "EUR",
    }

    def sql(query, **extra):
        def go():
            with connection.cursor() as cursor:
                cursor.execute(query, {**params, **extra})
                return cursor.fetchall()

        return go

    results = [
        (
            f"brand_kpis ({args.campaigns} campaigns, EUR)",
            median_ms(
                lambda: selectors.brand_kpis(brand=brand, start=START, end=end, currency="EUR"),
                args.runs,
            ),
            median_ms(lambda: (sql(BRAND_SQL)(), sql(FEE_RATES_SQL)()), args.runs),
        ),
        (
            "campaign_kpis (EUR campaign)",
            median_ms(lambda: selectors.campaign_kpis(campaign=campaigns[0]), args.runs),
            median_ms(sql(CAMPAIGN_SQL, campaign=key(campaigns[0].pk)), args.runs),
        ),
        (
            "campaign_kpis (USD campaign in EUR)",
            median_ms(lambda: selectors.campaign_kpis(campaign=usd, currency="EUR"), args.runs),
            median_ms(sql(CAMPAIGN_SQL, campaign=key(usd.pk)), args.runs),
        ),
    ]
    naive = median_ms(sql(NAIVE_SQL), args.runs)
    db = connection.vendor
    if db == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            db += " " + cursor.fetchone()[0]
    print(
        f"\n### KPI/ROI selectors: {total:,} InsightDaily rows "
        f"({args.campaigns} campaigns x {args.ads} ads x {args.days} days)\n"
    )
    print(
        f"{db}, Python {platform.python_version()}, loaded in {load_s:.1f} s; median of "
        f"{args.runs} warm runs\n"
    )
    print("| read | selector (ms) | hand-written SQL (ms) | ratio |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs in results:
        print(f"| {name} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x |")
    print(f"| naive SUM, no currency handling (brand) | | {naive:.1f} | |")


def main() -> None:
    args = parse_args()
    import django

    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    tmp = None
    if connection.vendor == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="bench-roi-")
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(Path(tmp.name) / "b.db")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args, connection)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
