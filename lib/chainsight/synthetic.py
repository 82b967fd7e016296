"""The synthetic retailer: a fictional omni-channel retailer in China.

Customers live in real cities and belong to hidden personas that drive what, when
and how often they buy, how they want it delivered and how they react to
festivals and promotions. Purchases follow a buy-till-you-die process (a Poisson
purchase rate per customer, modulated by the calendar, and a chance to lapse
after each purchase), so the customer-value models of later notebooks have a
true answer to find.

Injected effects, each with a strength in :class:`Scenario` (0 = off, 1 = the
documented default) and listed in the dataset's description:

* **acquisition shift**: new customers come more and more from ``young_trendsetter``
  and ``value_seeker`` (the most festival-driven personas) and less from
  ``urban_professional`` and ``silver_shopper``, so the customer mix, and with it
  the festival peaks, change from year to year;
* **customisation ramp**: ``family_homemaker`` customers order customised
  furniture more and more often (share of customisable lines customised rises
  linearly from 25% to 65% over the period);
* **category shift**: ``silver_shopper`` customers move from packaged food towards
  electronics (electronics share 8% -> 35%);
* **quality incident**: one packaged-food SKU has a quality problem for three
  weeks (returns and complaints jump), and its demand halves for eight weeks after;
* **coupon response**: the retailer's coupon campaigns (:data:`CAMPAIGNS`, each with a
  random control group) bring extra orders from the customers they reach, in
  proportion to their persona's discount sensitivity (value seekers most, urban
  professionals least).

The campaigns themselves run in every scenario: for each, half of the customers signed
up at least a month before are in the audience, half of the audience is sent a coupon
(the rest is the control group), and the coupon takes :data:`COUPON_RATE` off the
first order in the campaign's window. Their draws come from a random stream of their
own, so every other draw is the same as without them; what they change is stated in
:func:`_campaigns`.

Besides the effects, individuals differ from their persona (purchase rate,
dropout, category and ship-mode mix, festival response), and some customers
change their habits part-way (they take on another persona's category and
ship-mode mix from a day of their own).

Everything is deterministic for a seed. Customers are generated in chunks with
their own random streams, so the ``large`` size can be streamed to Parquet.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from chainsight import reference_tables as ref
from chainsight import schema as S
from chainsight.logistics import (
    delivery_days,
    great_circle_km,
    promised_days,
    road_km,
)

# Bumped whenever the generator's output changes, so cached data is regenerated.
GENERATOR_VERSION = 6
SIZES = {"small": 3_000, "default": 20_000, "large": 1_000_000}
START = pd.Timestamp("2023-01-01")
END = pd.Timestamp("2025-12-31")
CHUNK_CUSTOMERS = 50_000

CUSTOMISATION_RAMP = ("family_homemaker", 0.25, 0.65)
# Acquisition mix: weight of each persona among new customers at the end of the
# period relative to the start (linear in between); the retailer's push into
# lower-tier cities and short-video channels brings ever more of its most
# festival-driven customers.
ACQUISITION_SHIFT = {"young_trendsetter": 2.0, "value_seeker": 2.0, "urban_professional": 0.7,
                     "silver_shopper": 0.8}
CATEGORY_SHIFT = ("silver_shopper", (0.10, 0.35, 0.10, 0.45))  # shares at the end
INCIDENT = dict(start="2024-07-08", days=21, recovery_days=56, return_rate=0.35,
                complaint_rate=0.30, demand_kept=0.5)  # fmt: skip

# Coupon campaigns: start dates, window, coupon and the audience sampled from the base.
CAMPAIGNS = ("2023-09-05", "2023-12-05", "2024-03-05", "2024-05-07", "2024-09-03", "2024-12-03",
             "2025-03-04", "2025-05-06", "2025-09-02", "2025-12-02")
CAMPAIGN_DAYS = 14
COUPON_RATE = 0.10
CAMPAIGN_AUDIENCE = 0.5  # share of the eligible customers in a campaign's audience
CAMPAIGN_MIN_TENURE_DAYS = 30
# Extra orders in the window from a coupon, per unit of discount sensitivity, as a
# share of the orders the customer places in that time anyway (alive customers only).
COUPON_LIFT = 0.5

# Share of customers who change their habits part-way (another persona's mix).
SWITCH_SHARE = 0.15
# How tightly individuals follow their persona's category and ship-mode mix
# (Dirichlet concentration; lower = more individual variation).
MIX_CONCENTRATION = 4.0

EFFECTS = {
    "acquisition_shift": "new customers come more and more from the festival-driven personas "
                         "(lower-tier expansion, short-video channels)",
    "customisation_ramp": "family homemakers order customised furniture more and more often "
                          "(25% to 65% of customisable lines)",
    "category_shift": "silver shoppers move from packaged food towards electronics "
                      "(electronics 8% to 35% of their lines)",
    "quality_incident": "one food SKU has a three-week quality problem, then loses half its "
                        "demand for eight weeks",
    "coupon_response": "a coupon brings extra orders in its campaign's window, by the "
                       "persona's discount sensitivity (value seekers most)",
}
EFFECTS_OFF: dict[str, float] = {name: 0.0 for name in EFFECTS}  # the negative control


@dataclass(frozen=True)
class Scenario:
    """The strengths of the injected effects: 0 switches an effect off, 1 is the
    documented default (see :data:`EFFECTS`), values in between or above scale it.

    ``Scenario.from_dict({"acquisition_shift": 0})`` is the default with the
    acquisition shift off."""

    acquisition_shift: float = 1.0
    customisation_ramp: float = 1.0
    category_shift: float = 1.0
    quality_incident: float = 1.0
    coupon_response: float = 1.0

    def __post_init__(self):
        for name in EFFECTS:
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0 <= v <= 3:
                raise ValueError(f"effect '{name}': strength must be a number from 0 (off) "
                                 f"to 3, not {v!r}")
            object.__setattr__(self, name, float(v))

    @classmethod
    def from_dict(cls, effects: Scenario | dict | None) -> Scenario:
        """A scenario from a dict of strengths (missing effects at 1), or as it is."""
        if isinstance(effects, Scenario):
            return effects
        if effects is not None and not isinstance(effects, dict):
            raise ValueError(f"effects must be a mapping of effect name to strength, e.g. "
                             f"{{'acquisition_shift': 0}}, not {effects!r}")
        effects = dict(effects or {})
        unknown = sorted(set(effects) - set(EFFECTS))
        if unknown:
            raise ValueError(f"unknown effect(s) {unknown}; the effects are {list(EFFECTS)}")
        return cls(**effects)

    def strengths(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in EFFECTS}

    def key(self) -> str:
        """'' for the default scenario, else the strengths that differ, e.g.
        'acquisition_shift0' (used in the data folder name, so cached data never mixes)."""
        return "-".join(f"{k}{v:.12g}" for k, v in self.strengths().items() if v != 1.0)

    def describe(self) -> list[str]:
        """One line per effect: name, strength and what it does."""
        return [f"{k} = {v:g} ({'off' if v == 0 else 'on'}): {EFFECTS[k]}"
                for k, v in self.strengths().items()]


@dataclass(frozen=True)
class GroundTruth:
    """What the generator knows and the analysis must not read."""

    customers: pd.DataFrame  # customer_id, persona, purchase_rate_per_year, dropout_prob
    personas: pd.DataFrame
    effects: dict = field(default_factory=dict)
    # campaign_id, customer_id, coupon, alive, expected_extra_orders (the coupon's true
    # effect on the customer's orders in the window), extra_orders (those it brought)
    campaigns: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class RetailData:
    customers: pd.DataFrame
    products: pd.DataFrame
    orders: pd.DataFrame
    sites: pd.DataFrame
    calendar: pd.DataFrame
    campaigns: pd.DataFrame
    truth: GroundTruth

    def tables(self) -> dict[str, pd.DataFrame]:
        return {t: getattr(self, t) for t in S.TABLES}


# ---------------------------------------------------------------------------
# Static tables
# ---------------------------------------------------------------------------
def make_calendar(start: pd.Timestamp = START, end: pd.Timestamp = END,
                  seed: int = 0) -> pd.DataFrame:
    """One row per day with the festival or promotion running that day.

    Columns: date, event, event_kind ('festival' / 'promotion' / ''), peak (bool),
    uplift (the demand multiplier for an average customer).
    """
    days = pd.date_range(start, end, freq="D")
    cal = pd.DataFrame({S.DATE: days, S.EVENT: "", S.EVENT_KIND: "", "peak": False,
                        "uplift": 1.0})
    for year in range(start.year, end.year + 1):
        for name, (anchor, lo, hi, mult, peak_mult) in ref.FESTIVALS.items():
            a = (pd.Timestamp(ref.SPRING_FESTIVAL[year]) if anchor == "spring"
                 else pd.Timestamp(f"{year}-{anchor}"))
            window = (cal[S.DATE] >= a + pd.Timedelta(days=lo)) & (
                cal[S.DATE] <= a + pd.Timedelta(days=hi))
            cal.loc[window, [S.EVENT, S.EVENT_KIND, "uplift"]] = [name, "festival", mult]
            n_peak = ref.PEAK_DAYS.get(name, 0)
            if n_peak:
                peak = (cal[S.DATE] > a - pd.Timedelta(days=n_peak)) & (cal[S.DATE] <= a)
                cal.loc[peak, ["peak", "uplift"]] = [True, peak_mult]
    # Brand promotions: three-day sales, about one every five weeks, off festival days.
    rng = np.random.default_rng([seed, 7001])
    t = 10
    while t < len(cal) - 3:
        span = slice(t, t + 3)
        if (cal[S.EVENT_KIND].iloc[span] == "").all():
            idx = cal.index[span]
            cal.loc[idx, [S.EVENT, S.EVENT_KIND, "uplift"]] = ["Brand promotion", "promotion",
                                                               1.3]
        t += int(rng.integers(28, 42))
    cal["weekday"] = cal[S.DATE].dt.dayofweek
    return cal


def make_products(seed: int) -> pd.DataFrame:
    """SKUs with category, family, price, unit cost, supplier, lead time, shelf life."""
    rng = np.random.default_rng([seed, 7002])
    rows = []
    k = 0
    for cat in ref.CATEGORIES:
        fams = ref.FAMILIES[cat]
        sups = ref.SUPPLIERS[cat]
        for i in range(ref.SKUS_PER_CATEGORY[cat]):
            fam, median, sigma = fams[i % len(fams)]
            sup, lt_lo, lt_hi = sups[int(rng.integers(len(sups)))]
            price = float(np.round(median * rng.lognormal(0, sigma), 0) - 0.01)
            price = max(price, 9.99)
            customisable = cat == "furniture" and fam in ("Sofa", "Wardrobe", "Bed frame", "Desk")
            lead = int(rng.integers(lt_lo, lt_hi + 1))
            k += 1
            rows.append({
                S.PRODUCT_ID: f"SKU{k:04d}",
                S.CATEGORY: cat,
                "family": fam,
                S.DESCRIPTION: f"{fam} {chr(65 + i % 26)}{i // 26 + 1}",
                S.UNIT_PRICE: price,
                S.UNIT_COST: round(price * rng.uniform(0.45, 0.72), 2),
                S.SUPPLIER: sup,
                S.LEAD_TIME_DAYS: lead,
                S.SHELF_LIFE_DAYS: ref.SHELF_LIFE_DAYS.get(fam, np.nan),
                S.CUSTOMISABLE: customisable,
                "popularity": float(rng.pareto(1.5) + 0.2),
            })
    return pd.DataFrame(rows)


def make_sites(seed: int) -> pd.DataFrame:
    """Candidate warehouse cities with annual fixed cost (CNY) and capacity (units/yr).

    Both are for the whole business, of which the generated customers are a sample
    (``volume_scale`` in :func:`chainsight.logistics.network_comparison`)."""
    rng = np.random.default_rng([seed, 7003])
    c = ref.CITIES.set_index("city")
    rows = []
    for i, (city, current) in enumerate(ref.SITE_CITIES.items(), start=1):
        tier = c.loc[city, "city_tier"]
        rows.append({
            S.SITE_ID: f"W{i:02d}", S.CITY: city, S.LON: c.loc[city, "lon"],
            S.LAT: c.loc[city, "lat"], S.CITY_TIER: tier,
            S.FIXED_COST: round(ref.SITE_FIXED_COST_CNY[tier] * rng.uniform(0.9, 1.1), -3),
            S.CAPACITY: float(rng.choice([4_000_000, 6_000_000, 8_000_000, 12_000_000])),
            "current": current,
        })
    return pd.DataFrame(rows)


def _persona_table() -> pd.DataFrame:
    rows = []
    for name, p in ref.PERSONAS.items():
        row = {"persona": name, "share": p["share"], "age_mean": p["age"][0],
               "female_share": p["female"], "orders_per_year": p["orders_per_year"],
               "dropout_per_purchase": p["dropout"], "basket_lines": p["basket"],
               "discount_sensitivity": p["discount_sensitivity"],
               "festival_response": p["festival_response"],
               "return_rate": p["return_rate"], "complaint_rate": p["complaint_rate"],
               "customisation": p["customisation"]}
        row.update({f"cat_{c}": v for c, v in zip(ref.CATEGORIES, p["categories"], strict=True)})
        row.update({f"ship_{s}": v for s, v in zip(ref.SHIP_LEVELS, p["ship"], strict=True)})
        row.update({f"tier_{t}": v for t, v in zip(ref.TIER_LEVELS, p["tier"], strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Customers and orders, one chunk at a time
# ---------------------------------------------------------------------------
def _choice_rows(rng, probs: np.ndarray) -> np.ndarray:
    """Draw one index per row of a (n, k) probability matrix."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1)


WEEKLY = (0.94, 1.15)  # weekday, weekend demand multiplier


def _event_lift(calendar: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per (persona, day): the extra demand of an event for a customer whose response
    is the persona's (festival uplift scaled by its festival response and affinity,
    promotions by its discount sensitivity), and the multiplier on event days that
    damp demand (the Spring Festival holiday). A customer's multiplier on a day is
    ``(1 + g * extra) * damp * weekly``, with ``g`` the customer's own response
    relative to the persona's."""
    base = calendar["uplift"].to_numpy()
    kind = calendar[S.EVENT_KIND].to_numpy()
    event = calendar[S.EVENT].to_numpy().astype(str)
    extra = np.empty((len(names), len(calendar)))
    for i, name in enumerate(names):
        p = ref.PERSONAS[name]
        resp = np.where(kind == "promotion", p["discount_sensitivity"], p["festival_response"])
        aff = np.ones(len(calendar))
        for ev, mult in p["event_affinity"].items():
            aff[np.char.startswith(event, ev)] = mult
        extra[i] = np.where(base >= 1, resp * aff * (base - 1), 0.0)
    damp = np.where(base >= 1, 1.0, base)
    return extra, damp


def _chunk(chunk: int, n: int, first_index: int, seed: int, products: pd.DataFrame,
           sites: pd.DataFrame, calendar: pd.DataFrame, scenario: Scenario):
    rng = np.random.default_rng([seed, 1, chunk])
    names = list(ref.PERSONAS)
    P = [ref.PERSONAS[k] for k in names]
    n_days = len(calendar)

    # --- customers -------------------------------------------------------
    # A launch cohort in the first quarter, then acquisition growing over time.
    launch = rng.random(n) < 0.25
    signup = np.where(launch, rng.random(n) * 90, np.sqrt(rng.random(n)) * n_days)
    signup = np.minimum(signup, n_days - 1).astype(int)
    # Who is acquired shifts over time (the lower-tier expansion, see ACQUISITION_SHIFT).
    shift = 1 + scenario.acquisition_shift * (
        np.array([ACQUISITION_SHIFT.get(k, 1.0) for k in names]) - 1)
    frac_signup = (signup / (n_days - 1))[:, None]
    weights = np.array([p["share"] for p in P])[None, :] * (1 + (shift - 1) * frac_signup)
    persona = _choice_rows(rng, weights)
    age = np.array([P[k]["age"][0] for k in persona]) + rng.normal(
        0, 1, n) * np.array([P[k]["age"][1] for k in persona])
    age = np.clip(np.round(age), 18, 85)
    female = rng.random(n) < np.array([p["female"] for p in P])[persona]
    income = _choice_rows(rng, np.array([p["income"] for p in P])[persona])
    occ_levels = sorted({o for p in P for o in p["occupation"]})
    occ_probs = np.array([[p["occupation"].get(o, 0.0) for o in occ_levels] for p in P])
    occupation = _choice_rows(rng, occ_probs[persona])
    tier = _choice_rows(rng, np.array([p["tier"] for p in P])[persona])
    cities = ref.CITIES
    city = np.empty(n, dtype=int)
    for t, tname in enumerate(ref.TIER_LEVELS):
        idx = np.flatnonzero(tier == t)
        cand = np.flatnonzero(cities["city_tier"].to_numpy() == tname)
        w = cities["population_m"].to_numpy()[cand]
        city[idx] = cand[rng.choice(len(cand), size=len(idx), p=w / w.sum())]
    # Purchase rates vary widely within a persona (gamma with shape 0.8, as in the
    # heterogeneity BG/NBD fits find in real bases: shape below 1), dropout less so.
    rate = rng.gamma(0.8, 1.25, n) * np.array([p["orders_per_year"] for p in P])[persona] / 365
    dmean = np.array([p["dropout"] for p in P])[persona]
    dropout = rng.beta(dmean * 6, (1 - dmean) * 6)
    cat_mean = np.array([p["categories"] for p in P])
    ship_mean = np.array([p["ship"] for p in P])

    def mixes(who):
        cat = rng.gamma(cat_mean[who] * MIX_CONCENTRATION, 1.0) + 1e-9
        ship = rng.gamma(ship_mean[who] * MIX_CONCENTRATION, 1.0) + 1e-9
        return cat / cat.sum(axis=1, keepdims=True), ship / ship.sum(axis=1, keepdims=True)

    cat_pref, ship_pref = mixes(persona)
    # Some customers change their habits part-way: from a day of their own they buy
    # with another persona's category and ship-mode mix.
    other = (persona + rng.integers(1, len(P), n)) % len(P)
    cat_after, ship_after = mixes(other)
    switch_day = np.where(rng.random(n) < SWITCH_SHARE,
                          signup + (rng.random(n) * (n_days - signup)).astype(int), n_days)
    # Individual variation around the persona's rates.
    indiv = rng.lognormal(0, 0.3, (n, 3))  # returns, complaints, discount use
    response = rng.lognormal(-0.08, 0.4, n)  # festival and promotion response

    ids = np.char.add("C", np.char.zfill((first_index + np.arange(n)).astype(str), 7))
    # A small share of customers did not fill in their profile.
    no_profile = rng.random(n) < 0.03
    customers = pd.DataFrame({
        S.CUSTOMER_ID: ids,
        S.SIGNUP_DATE: calendar[S.DATE].to_numpy()[signup],
        S.GENDER: np.where(no_profile, None, np.where(female, "F", "M")),
        S.AGE: np.where(no_profile, np.nan, age),
        S.INCOME_BAND: np.where(no_profile, None, np.array(ref.INCOME_LEVELS)[income]),
        S.OCCUPATION: np.where(no_profile, None, np.array(occ_levels)[occupation]),
        S.CITY: cities["city"].to_numpy()[city],
        S.CITY_TIER: cities["city_tier"].to_numpy()[city],
        S.LON: cities["lon"].to_numpy()[city],
        S.LAT: cities["lat"].to_numpy()[city],
    })
    truth = pd.DataFrame({
        S.CUSTOMER_ID: ids, "persona": np.array(names)[persona],
        "purchase_rate_per_year": rate * 365, "dropout_prob": dropout,
        "festival_response": response,
        "switch_date": pd.Series(calendar[S.DATE].to_numpy()[np.minimum(switch_day, n_days - 1)])
        .where(switch_day < n_days).to_numpy(),
        "switch_to": np.where(switch_day < n_days, np.array(names)[other], None),
    })

    # --- purchase events: thinning of a calendar-modulated Poisson process ----
    extra, damp = _event_lift(calendar, names)
    weekly = np.where(calendar["weekday"].to_numpy() >= 5, WEEKLY[1], WEEKLY[0])
    imax = (1 + response * extra.max(axis=1)[persona]) * WEEKLY[1]  # bound for thinning
    active = n_days - signup
    n_cand = rng.poisson(rate * imax * active)
    cust = np.repeat(np.arange(n), n_cand)
    day = signup[cust] + (rng.random(len(cust)) * active[cust]).astype(int)
    inten = (1 + response[cust] * extra[persona[cust], day]) * damp[day] * weekly[day]
    keep = rng.random(len(cust)) * imax[cust] < inten
    cust, day = cust[keep], day[keep]
    # First purchase on the signup day, then repeats until the customer lapses
    # (after each purchase, lapse with the customer's dropout probability).
    cust = np.concatenate([np.arange(n), cust])
    day = np.concatenate([signup, day])
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    rank = np.arange(len(cust)) - np.searchsorted(cust, cust)
    lifetime = rng.geometric(dropout)  # purchases made before lapsing
    alive = rank < lifetime[cust]
    truth["n_orders"] = np.bincount(cust[alive], minlength=n)
    truth["lapsed_by_end"] = truth["n_orders"].to_numpy() < np.bincount(cust, minlength=n)
    cust, day = cust[alive], day[alive]
    n_orders = len(cust)
    pk = persona[cust]

    cal = calendar
    event = cal[S.EVENT].to_numpy()[day]
    kind = cal[S.EVENT_KIND].to_numpy()[day]
    peak = cal["peak"].to_numpy()[day]
    hour = np.where(peak & (rng.random(n_orders) < 0.35), rng.integers(0, 2, n_orders),
                    rng.choice(24, n_orders, p=_HOURS))
    ts = (cal[S.DATE].to_numpy()[day] + hour.astype("timedelta64[h]")
          + rng.integers(0, 3600, n_orders).astype("timedelta64[s]"))
    channel = _choice_rows(rng, np.array([p["channel"] for p in P])[pk])
    ship = _choice_rows(rng, np.where((day >= switch_day[cust])[:, None], ship_after[cust],
                                      ship_pref[cust]))
    ship_mode = np.array(ref.SHIP_LEVELS + ("pickup",))[np.where(channel == 3, 3, ship)]

    # Delivery days from the distance to the nearest site of the current network.
    cur = sites[sites["current"]]
    dist = great_circle_km(customers[S.LON].to_numpy()[:, None],
                           customers[S.LAT].to_numpy()[:, None],
                           cur[S.LON].to_numpy()[None, :], cur[S.LAT].to_numpy()[None, :])
    km = road_km(dist.min(axis=1)[cust])
    base = delivery_days(km, ship_mode)
    noise = rng.poisson(np.select([ship_mode == "express", ship_mode == "standard",
                                   ship_mode == "economy"], [0.15, 0.5, 0.9], 0))
    congestion = np.where(peak | (event == "Double 11"), rng.integers(0, 3, n_orders), 0)
    congestion += np.where(event == "Spring Festival holiday", 3, 0)
    delivery = np.where(ship_mode == "pickup", 0, base + noise + congestion).astype(float)
    promised = promised_days(km, ship_mode)
    late = (delivery > promised) & (ship_mode != "pickup")

    # --- order lines --------------------------------------------------------
    n_lines = 1 + rng.poisson(np.array([p["basket"] for p in P])[pk] - 1)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    lc = cust[line_order]
    lp = persona[lc]
    lday = day[line_order]
    frac = lday / (n_days - 1)
    prefs = np.where((lday >= switch_day[lc])[:, None], cat_after[lc], cat_pref[lc])
    shift_p = names.index(CATEGORY_SHIFT[0])
    m = lp == shift_p
    w = np.minimum(scenario.category_shift * frac[m, None], 1.0)  # all the way, at most
    prefs[m] = (1 - w) * prefs[m] + w * np.array(CATEGORY_SHIFT[1])
    # Food sells more before Spring Festival; electronics on 618 and Double 11.
    ev = event[line_order]
    prefs[:, 3] *= np.where(ev == "Spring Festival", 2.2, 1.0)
    prefs[:, 1] *= np.where(np.isin(ev, ["618", "Double 11"]), 1.6, 1.0)
    cat = _choice_rows(rng, prefs)

    prod_cat = products[S.CATEGORY].map({c: i for i, c in enumerate(ref.CATEGORIES)}).to_numpy()
    price = products[S.UNIT_PRICE].to_numpy()
    pop = products["popularity"].to_numpy()
    sku = np.empty(len(lc), dtype=int)
    for pi, p in enumerate(P):
        for ci in range(len(ref.CATEGORIES)):
            sel = np.flatnonzero((lp == pi) & (cat == ci))
            cand = np.flatnonzero(prod_cat == ci)
            w = pop[cand] * (price[cand] / price[cand].mean()) ** (-p["price_sensitivity"])
            sku[sel] = cand[np.searchsorted(np.cumsum(w) / w.sum(), rng.random(len(sel)))
                            .clip(0, len(cand) - 1)]

    # Quality incident: after it, half of the affected SKU's buyers pick another food SKU.
    food = np.flatnonzero(prod_cat == 3)
    incident_sku = food[np.argsort(-pop[food])[0]]
    substitute = food[np.argsort(-pop[food])[1]]
    inc_start = (pd.Timestamp(INCIDENT["start"]) - cal[S.DATE].iloc[0]).days
    inc_end = inc_start + INCIDENT["days"]
    in_recovery = (lday >= inc_start) & (lday < inc_end + INCIDENT["recovery_days"])
    lost = min(1.0, scenario.quality_incident * (1 - INCIDENT["demand_kept"]))
    switch = (sku == incident_sku) & in_recovery & (rng.random(len(sku)) < lost)
    sku[switch] = substitute
    in_incident = (sku == incident_sku) & (lday >= inc_start) & (lday < inc_end)

    fam = products["family"].to_numpy()[sku]
    qty = 1 + np.select([cat == 0, cat == 3], [rng.poisson(0.3, len(sku)),
                                               rng.poisson(1.5, len(sku))], 0)
    qty = np.where(np.isin(fam, ["Laptop", "Smartphone", "Sofa", "Wardrobe", "Bed frame"]), 1, qty)

    # Discounts: deep on festival peaks, moderate in festival windows and promotions,
    # and a coupon now and then; discount-sensitive customers use them more.
    lkind = kind[line_order]
    lpeak = peak[line_order]
    dsens = np.array([p["discount_sensitivity"] for p in P])[lp] * indiv[lc, 2]
    depth = np.select([lpeak, lkind == "festival", lkind == "promotion"],
                      [rng.uniform(0.2, 0.35, len(sku)), rng.uniform(0.08, 0.2, len(sku)),
                       rng.uniform(0.1, 0.2, len(sku))], 0.0)
    takes = rng.random(len(sku)) < np.clip(0.45 + 0.2 * dsens, 0, 0.98)
    coupon = (rng.random(len(sku)) < 0.06 * dsens) * 0.05
    discount = np.round(np.where((depth > 0) & takes, depth, coupon), 2)
    list_price = price[sku]
    unit_price = np.round(list_price * (1 - discount), 2)

    # Customisation (furniture that can be made to order).
    cust_p = np.array([p["customisation"] for p in P])[lp]
    ramp_p = names.index(CUSTOMISATION_RAMP[0])
    cust_p = np.where(lp == ramp_p, CUSTOMISATION_RAMP[1] + scenario.customisation_ramp
                      * (CUSTOMISATION_RAMP[2] - CUSTOMISATION_RAMP[1]) * frac, cust_p)
    customised = products[S.CUSTOMISABLE].to_numpy()[sku] & (rng.random(len(sku)) < cust_p)
    ldelivery = delivery[line_order] + np.where(customised, rng.integers(7, 22, len(sku)), 0)

    # Returns and complaints.
    llate = late[line_order]
    cat_ret = np.array([2.0, 0.8, 0.6, 0.3])[cat]
    p_ret = (np.array([p["return_rate"] for p in P])[lp] * indiv[lc, 0] * cat_ret
             * np.where(customised, 0.2, 1.0) * np.where(llate, 1.5, 1.0))
    q = min(scenario.quality_incident, 1.0)
    p_ret = np.where(in_incident, (1 - q) * p_ret + q * INCIDENT["return_rate"], p_ret)
    p_cmp = (np.array([p["complaint_rate"] for p in P])[lp] * indiv[lc, 1]
             * np.where(llate, 3.0, 1.0))
    p_cmp = np.where(in_incident, (1 - q) * p_cmp + q * INCIDENT["complaint_rate"], p_cmp)

    order_ids = np.char.add("O", np.char.zfill(
        (chunk * 10_000_000 + np.arange(n_orders)).astype(str), 10))
    orders = pd.DataFrame({
        S.ORDER_ID: order_ids[line_order],
        S.CUSTOMER_ID: ids[lc],
        S.TIMESTAMP: ts[line_order],
        S.PRODUCT_ID: products[S.PRODUCT_ID].to_numpy()[sku],
        S.QUANTITY: qty.astype(float),
        S.LIST_PRICE: list_price,
        S.UNIT_PRICE: unit_price,
        S.DISCOUNT: discount,
        S.PROMO: discount >= 0.08,
        S.CHANNEL: np.array(ref.CHANNEL_LEVELS)[channel][line_order],
        S.SHIP_MODE: ship_mode[line_order],
        S.DELIVERY_DAYS: ldelivery,
        S.RETURNED: rng.random(len(sku)) < np.clip(p_ret, 0, 0.95),
        S.COMPLAINT: rng.random(len(sku)) < np.clip(p_cmp, 0, 0.95),
        S.CUSTOMISED: customised,
    })
    campaigns, orders, campaign_truth = _campaigns(
        np.random.default_rng([seed, 3, chunk]), np.random.default_rng([seed, 4, chunk]),
        chunk, orders, n_lines, cust, day, ids, signup,
        rate, np.array([p["discount_sensitivity"] for p in P])[persona] * indiv[:, 2],
        truth["lapsed_by_end"].to_numpy(), cal, scenario.coupon_response)
    orders = orders.sort_values([S.TIMESTAMP, S.ORDER_ID], kind="stable", ignore_index=True)
    effects = {"incident_sku": products[S.PRODUCT_ID].iloc[incident_sku],
               "incident_substitute_sku": products[S.PRODUCT_ID].iloc[substitute]}
    return customers, orders, truth, effects, campaigns, campaign_truth


def _campaigns(rng, rng_extra, chunk: int, orders: pd.DataFrame, n_lines: np.ndarray,
               cust: np.ndarray, day: np.ndarray, ids: np.ndarray, signup: np.ndarray,
               rate: np.ndarray, sensitivity: np.ndarray, lapsed: np.ndarray,
               calendar: pd.DataFrame, strength: float):
    """The coupon campaigns of :data:`CAMPAIGNS` for one chunk of customers.

    ``orders``: the chunk's order lines, order by order (``n_lines`` each), the orders
    sorted by customer (``cust``) and day (``day``, index into the calendar).
    ``sensitivity``: each customer's discount sensitivity (the persona's times their
    own); ``lapsed``: whether they lapsed before the end (then after their last order).

    Returns the campaigns table (one row per customer in a campaign's audience: the
    campaign, its start, its window in days, whether the customer was sent the coupon,
    the coupon's rate), the order lines with the campaigns' two changes, and the truth.
    Audiences and coupons are drawn from ``rng``, the extra orders from ``rng_extra``
    (so the same customers are couponed whatever the effect's strength). The changes to
    the order lines:

    * extra orders: a customer sent a coupon places Poisson(``strength`` x
      :data:`COUPON_LIFT` x their discount sensitivity x their purchase rate x the days
      of the window they are alive) extra orders on those days, each a repeat of one of
      their own earlier baskets at list price (the lapse process does not count them);
    * the coupon: the first order a couponed customer places in the window (an extra
      one or their own) has :data:`COUPON_RATE` more taken off its lines' price.
    """
    n, n_days = len(ids), len(calendar)
    dates = calendar[S.DATE].to_numpy()
    last = np.full(n, -1)
    np.maximum.at(last, cust, day)
    alive_until = np.where(lapsed, last, n_days)
    key = cust.astype(np.int64) * (n_days + 1) + day  # orders sorted by customer, day
    line_start = np.concatenate([[0], np.cumsum(n_lines)])
    tables, truths, extra_lines = [], [], []
    next_order = len(n_lines)
    for c, start in enumerate(CAMPAIGNS):
        t0 = int((pd.Timestamp(start) - pd.Timestamp(dates[0])).days)
        if t0 < 0 or t0 + CAMPAIGN_DAYS > n_days:
            continue
        eligible = signup <= t0 - CAMPAIGN_MIN_TENURE_DAYS
        audience = np.flatnonzero(eligible & (rng.random(n) < CAMPAIGN_AUDIENCE))
        coupon = rng.random(len(audience)) < 0.5
        # Days of the window the customer is alive (one who lapses does so after their
        # last purchase).
        alive_days = np.clip(alive_until[audience] - t0 + 1, 0, CAMPAIGN_DAYS)
        alive = alive_days > 0
        expected = (strength * COUPON_LIFT * sensitivity[audience] * rate[audience]
                    * alive_days)
        extra = np.where(coupon, rng_extra.poisson(expected), 0)
        cid = f"CP{c + 1:02d}"
        tables.append(pd.DataFrame({
            "campaign_id": cid, S.CUSTOMER_ID: ids[audience], S.DATE: dates[t0],
            "days": CAMPAIGN_DAYS, "coupon": coupon, "coupon_rate": COUPON_RATE}))
        truths.append(pd.DataFrame({
            "campaign_id": cid, S.CUSTOMER_ID: ids[audience], "coupon": coupon,
            "alive": alive, "expected_extra_orders": expected, "extra_orders": extra}))
        who = np.repeat(audience, extra)
        if len(who) == 0:
            continue
        # A repeat of one of the customer's own orders from before the start (every
        # customer in the audience has one: the first, on the signup day).
        lo = np.searchsorted(key, who.astype(np.int64) * (n_days + 1))
        hi = np.searchsorted(key, who.astype(np.int64) * (n_days + 1) + t0)
        src = lo + np.minimum((rng_extra.random(len(who)) * (hi - lo)).astype(int),
                              hi - lo - 1)
        # On a day of the window while the customer is still alive.
        span = np.minimum(CAMPAIGN_DAYS, alive_until[who] - t0 + 1)
        when = t0 + (rng_extra.random(len(who)) * span).astype(int)
        stamp = (dates[when]
                 + rng_extra.choice(24, len(who), p=_HOURS).astype("timedelta64[h]")
                 + rng_extra.integers(0, 3600, len(who)).astype("timedelta64[s]"))
        counts = n_lines[src]
        rows = (np.repeat(line_start[src] - np.cumsum(counts) + counts, counts)
                + np.arange(counts.sum()))
        new = orders.iloc[rows].copy()
        new[S.ORDER_ID] = np.repeat(np.char.add("O", np.char.zfill(
            (chunk * 10_000_000 + next_order + np.arange(len(who))).astype(str), 10)), counts)
        next_order += len(who)
        new[S.TIMESTAMP] = np.repeat(stamp, counts)
        new[S.DISCOUNT] = 0.0
        new[S.UNIT_PRICE] = new[S.LIST_PRICE]
        extra_lines.append(new)
    orders = pd.concat([orders, *extra_lines], ignore_index=True)
    campaigns = pd.concat(tables, ignore_index=True)
    # The coupon, on the first order each couponed customer places in the window.
    sent = campaigns.loc[campaigns["coupon"].to_numpy(), [S.CUSTOMER_ID, S.DATE]]
    window = orders[[S.CUSTOMER_ID, S.TIMESTAMP, S.ORDER_ID]].merge(sent, on=S.CUSTOMER_ID)
    window = window[(window[S.TIMESTAMP] >= window[S.DATE])
                    & (window[S.TIMESTAMP] < window[S.DATE] + pd.Timedelta(days=CAMPAIGN_DAYS))]
    first = window.sort_values([S.TIMESTAMP, S.ORDER_ID]).drop_duplicates([S.CUSTOMER_ID, S.DATE])
    redeemed = orders[S.ORDER_ID].isin(first[S.ORDER_ID]).to_numpy()
    disc = np.round(1 - (1 - orders[S.DISCOUNT].to_numpy()) * (1 - COUPON_RATE), 3)
    orders[S.DISCOUNT] = np.where(redeemed, disc, orders[S.DISCOUNT].to_numpy())
    orders[S.UNIT_PRICE] = np.where(
        redeemed, np.round(orders[S.LIST_PRICE].to_numpy() * (1 - disc), 2),
        orders[S.UNIT_PRICE].to_numpy())
    orders[S.PROMO] = orders[S.DISCOUNT].to_numpy() >= 0.08
    return campaigns, orders, pd.concat(truths, ignore_index=True)


# Hour-of-day purchase profile (evening peak).
_HOURS = np.array([2, 1, .5, .3, .3, .4, .8, 1.5, 2.5, 3.5, 4, 4.5, 5, 4.5, 4, 4, 4.2, 4.5,
                   5, 6, 7, 7.5, 6, 4])
_HOURS = _HOURS / _HOURS.sum()


def iter_chunks(size: str | int, seed: int, products: pd.DataFrame, sites: pd.DataFrame,
                calendar: pd.DataFrame, chunk_customers: int = CHUNK_CUSTOMERS,
                scenario: Scenario | None = None
                ) -> Iterator[tuple]:
    """Yield (customers, orders, truth, effects, campaigns, campaign truth) per chunk of
    customers."""
    n_total = SIZES[size] if isinstance(size, str) else int(size)
    scenario = scenario or Scenario()
    for chunk, first in enumerate(range(0, n_total, chunk_customers)):
        n = min(chunk_customers, n_total - first)
        yield _chunk(chunk, n, first, seed, products, sites, calendar, scenario)


def effects_doc(effects: dict, scenario: Scenario | None = None) -> dict:
    """The injected effects and their strengths as a JSON-able dict (ground truth)."""
    st = (scenario or Scenario()).strengths()
    return {
        "strengths": st,
        "acquisition_shift": {"end_vs_start_weight": ACQUISITION_SHIFT},
        "customisation_ramp": {"persona": CUSTOMISATION_RAMP[0],
                               "share_start": CUSTOMISATION_RAMP[1],
                               "share_end": CUSTOMISATION_RAMP[2]},
        "category_shift": {"persona": CATEGORY_SHIFT[0],
                           "end_shares": dict(zip(ref.CATEGORIES, CATEGORY_SHIFT[1],
                                                  strict=True))},
        "quality_incident": {**INCIDENT, "sku": effects["incident_sku"],
                             "substitute_sku": effects["incident_substitute_sku"]},
        "coupon_response": {"campaigns": list(CAMPAIGNS), "days": CAMPAIGN_DAYS,
                            "coupon_rate": COUPON_RATE, "audience_share": CAMPAIGN_AUDIENCE,
                            "coupon_share": 0.5, "lift_per_sensitivity": COUPON_LIFT,
                            "discount_sensitivity": {k: p["discount_sensitivity"]
                                                     for k, p in ref.PERSONAS.items()}},
        "behaviour_switch": {"share_of_customers": SWITCH_SHARE},
        "festivals": {k: {"window_multiplier": v[3], "peak_multiplier": v[4]}
                      for k, v in ref.FESTIVALS.items()},
    }


def static_tables(seed: int):
    return make_products(seed), make_sites(seed), make_calendar(seed=seed)


def generate(size: str | int = "default", seed: int = 42,
             effects: Scenario | dict | None = None) -> RetailData:
    """Generate the synthetic retailer in memory.

    Parameters
    ----------
    size : "small" (3,000 customers), "default" (20,000) or "large" (1,000,000; use
        :func:`chainsight.datasets.write_synthetic` to stream it to Parquet), or a
        number of customers.
    seed : the random seed; the same seed gives the same data.
    effects : a :class:`Scenario`, or a dict of effect strengths such as
        ``{"acquisition_shift": 0}`` (the others stay at 1).
    """
    scenario = Scenario.from_dict(effects)
    products, sites, calendar = static_tables(seed)
    parts = list(iter_chunks(size, seed, products, sites, calendar, scenario=scenario))
    customers = pd.concat([p[0] for p in parts], ignore_index=True)
    orders = pd.concat([p[1] for p in parts], ignore_index=True)
    truth_c = pd.concat([p[2] for p in parts], ignore_index=True)
    campaigns = pd.concat([p[4] for p in parts], ignore_index=True)
    truth = GroundTruth(truth_c, _persona_table(), effects_doc(parts[0][3], scenario),
                        pd.concat([p[5] for p in parts], ignore_index=True))
    return RetailData(customers, products.drop(columns="popularity"), orders, sites,
                      calendar, campaigns, truth)
