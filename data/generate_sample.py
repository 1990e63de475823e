"""Generate the bundled demo dataset ``data/sample_sales.csv`` (seeded, deterministic).

One row per day x region x team x product line x channel for 2023-2024: sales, costs, leads,
marketing, support, quality, staffing and delivery figures with a growth trend, seasonality
(a summer dip, a year-end peak), weekday patterns and regional strengths and weaknesses, so
every KPI type has something to measure and some regions hit their targets while others miss.

    python data/generate_sample.py [--out PATH] [--seed N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240101
START, END = "2023-01-01", "2024-12-31"
OUT = Path(__file__).resolve().parent / "sample_sales.csv"

COLUMNS = [
    "Date",
    "Region",
    "Product Line",
    "Channel",
    "Team",
    "Revenue",
    "Cost",
    "Units",
    "Orders",
    "Leads",
    "Conversions",
    "Marketing Spend",
    "New Customers",
    "Customer Satisfaction",
    "Support Tickets",
    "Tickets Resolved On Time",
    "Defects",
    "Units Inspected",
    "Headcount",
    "Leavers",
    "On Time Deliveries",
    "Deliveries",
]

# Region traits: size, yearly growth, cost ratio factor, conversion, satisfaction, support SLA,
# defect factor, yearly staff turnover, on-time delivery.
REGIONS = {
    "North": dict(
        size=1.25, growth=0.10, cost=0.97, conv=0.26, csat=4.35, sla=0.93, defects=0.8,
        turnover=0.10, on_time=0.955,
    ),
    "South": dict(
        size=0.85, growth=0.22, cost=1.02, conv=0.21, csat=4.05, sla=0.86, defects=1.1,
        turnover=0.19, on_time=0.925,
    ),
    "East": dict(
        size=1.0, growth=0.06, cost=1.00, conv=0.24, csat=4.2, sla=0.90, defects=1.35,
        turnover=0.14, on_time=0.94,
    ),
    "West": dict(
        size=1.15, growth=0.02, cost=1.07, conv=0.23, csat=3.95, sla=0.88, defects=0.95,
        turnover=0.16, on_time=0.89,
    ),
}  # fmt: skip
TEAMS = {
    "North": ("Polar", "Summit"),
    "South": ("Coral", "Delta"),
    "East": ("Harbor", "Sunrise"),
    "West": ("Canyon", "Pacific"),
}
# Product traits: orders per day per row, units per order, unit price, cost ratio, defect rate.
PRODUCTS = {
    "Hardware": dict(orders=3.2, units=2.4, price=310.0, cost=0.66, defects=0.021),
    "Software": dict(orders=4.0, units=1.6, price=180.0, cost=0.34, defects=0.006),
    "Services": dict(orders=1.8, units=1.0, price=820.0, cost=0.58, defects=0.012),
}
# Channel traits: volume, price factor, leads per order, cost per new customer, weekend factor.
CHANNELS = {
    "Online": dict(volume=1.1, price=0.97, leads=4.5, cac=95.0, weekend=1.1),
    "Retail": dict(volume=1.0, price=1.0, leads=3.0, cac=140.0, weekend=1.35),
    "Partner": dict(volume=0.7, price=0.85, leads=2.5, cac=210.0, weekend=0.3),
}
MONTH_SEASON = np.array([0.88, 0.9, 0.97, 1.0, 1.02, 0.96, 0.91, 0.93, 1.01, 1.04, 1.1, 1.18])
# West loses its biggest reseller: its Partner volume drops to this share from this day on.
LOST_PARTNER = ("West", "Partner", "2024-09-01", 0.35)


def generate(seed: int = SEED) -> pd.DataFrame:
    """The sample as a frame with ``COLUMNS``, one row per day x team x product x channel."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(START, END, freq="D")
    combos = [
        (region, team, product, channel)
        for region, teams in TEAMS.items()
        for team in teams
        for product in PRODUCTS
        for channel in CHANNELS
    ]
    n_days, n_combos = len(days), len(combos)
    n = n_days * n_combos

    def per_row(values: list[float]) -> np.ndarray:
        return np.tile(np.asarray(values, dtype="float64"), n_days)

    def by_region(key: str) -> np.ndarray:
        return per_row([REGIONS[c[0]][key] for c in combos])

    def by_product(key: str) -> np.ndarray:
        return per_row([PRODUCTS[c[2]][key] for c in combos])

    def by_channel(key: str) -> np.ndarray:
        return per_row([CHANNELS[c[3]][key] for c in combos])

    day = np.repeat(days.to_numpy(), n_combos)
    years = np.repeat((days - days[0]).days.to_numpy() / 365.25, n_combos)
    month = np.repeat(days.month.to_numpy() - 1, n_combos)
    weekend = np.repeat(days.day_of_week.to_numpy() >= 5, n_combos)
    team_factor = per_row([1.0 if c[1] == TEAMS[c[0]][0] else 0.8 for c in combos])
    region, channel, since, share = LOST_PARTNER
    lost = per_row([c[0] == region and c[3] == channel for c in combos]).astype(bool)
    lost &= day >= np.datetime64(since)

    # Volume: size x product x channel x team, growing, seasonal, weekday-shaped.
    volume = (
        by_region("size")
        * by_product("orders")
        * by_channel("volume")
        * team_factor
        * (1 + by_region("growth")) ** years
        * MONTH_SEASON[month]
        * np.where(weekend, by_channel("weekend"), 1.0)
        * np.where(lost, share, 1.0)
    )
    orders = rng.poisson(volume)
    units = orders + rng.poisson(orders * (by_product("units") - 1))
    price = by_product("price") * by_channel("price") * rng.lognormal(0, 0.04, n)
    revenue = np.round(units * price, 2)
    cost_ratio = by_product("cost") * by_region("cost") * rng.lognormal(0, 0.03, n)
    cost = np.round(revenue * cost_ratio, 2)

    # Funnel: leads convert at a regional rate that improves a little over time.
    leads = rng.poisson(volume * by_channel("leads"))
    conv = np.clip(by_region("conv") * (1 + 0.04 * years) * rng.lognormal(0, 0.05, n), 0, 0.9)
    conversions = rng.binomial(leads, conv)
    new_customers = rng.binomial(conversions, 0.45)
    spend = volume * by_channel("leads") * 0.45 * by_region("conv") * by_channel("cac")
    spend = np.round(spend * rng.lognormal(0, 0.15, n), 2)

    # Service: satisfaction (1-5 average score), tickets and their on-time resolution.
    rush = np.where(month == 11, 1.0, 0.0)  # December rush: slower service, later deliveries
    csat = by_region("csat") + 0.05 * years - 0.1 * rush + rng.normal(0, 0.22, n)
    csat = np.round(np.clip(csat, 1, 5), 2)
    tickets = rng.poisson(orders * 0.12 + 0.2)
    resolved = rng.binomial(tickets, np.clip(by_region("sla") - 0.03 * rush, 0, 1))

    # Quality: inspected share of units, defect rate falling 10% a year.
    inspected = rng.binomial(units, 0.6)
    defect_rate = by_product("defects") * by_region("defects") * 0.9**years
    defects = rng.binomial(inspected, defect_rate)

    # Staff: headcount per team x product x channel drifts by month; leavers at a yearly rate.
    base = rng.integers(6, 15, n_combos)
    month_index = ((days.year - days[0].year) * 12 + days.month - 1).to_numpy()
    drift = rng.integers(-1, 2, (month_index.max() + 1, n_combos)).cumsum(axis=0) // 3
    headcount = np.clip(base + drift[month_index], 2, None).ravel()
    leavers = rng.poisson(headcount * by_region("turnover") / 365)

    deliveries = orders
    on_time = rng.binomial(deliveries, np.clip(by_region("on_time") - 0.02 * rush, 0, 1))

    labels = np.array(combos, dtype=object)
    return pd.DataFrame(
        {
            "Date": pd.DatetimeIndex(day).strftime("%Y-%m-%d"),
            "Region": np.tile(labels[:, 0], n_days),
            "Product Line": np.tile(labels[:, 2], n_days),
            "Channel": np.tile(labels[:, 3], n_days),
            "Team": np.tile(labels[:, 1], n_days),
            "Revenue": revenue,
            "Cost": cost,
            "Units": units,
            "Orders": orders,
            "Leads": leads,
            "Conversions": conversions,
            "Marketing Spend": spend,
            "New Customers": new_customers,
            "Customer Satisfaction": csat,
            "Support Tickets": tickets,
            "Tickets Resolved On Time": resolved,
            "Defects": defects,
            "Units Inspected": inspected,
            "Headcount": headcount,
            "Leavers": leavers,
            "On Time Deliveries": on_time,
            "Deliveries": deliveries,
        }
    )


def write(path: Path, seed: int = SEED) -> Path:
    """Write the sample CSV to ``path`` (ISO dates, plain numbers, ``\\n`` line ends)."""
    generate(seed).to_csv(path, index=False, lineterminator="\n")
    return path


def main(argv: list[str] | None = None) -> None:
    """Command line: write the sample CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output CSV (default {OUT})")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed")
    args = parser.parse_args(argv)
    print(write(args.out, args.seed))


if __name__ == "__main__":
    main()
