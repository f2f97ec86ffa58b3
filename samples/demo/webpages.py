"""What the demo vendor's website has: pages, traffic sources, browsers, track events."""

from __future__ import annotations

from typing import NamedTuple

SITE = "https://www.kindred-demo.com"


class WebPage(NamedTuple):
    path: str
    title: str


BLOG = (
    WebPage("/blog/b2b-segmentation-guide", "B2B segmentation: a practical guide"),
    WebPage("/blog/lead-scoring-101", "Lead scoring 101"),
    WebPage("/blog/customer-journey-map", "How to map the B2B customer journey"),
    WebPage("/blog/pareto-key-accounts", "Key accounts and the 80/20 rule"),
    WebPage("/blog/reduce-churn", "Seven early signs of churn"),
    WebPage("/blog/complaint-handling", "Handling complaints on every channel"),
    WebPage("/", "Kindred Demo - one view of every customer"),
)
CONSIDER = (
    WebPage("/pricing", "Pricing"),
    WebPage("/case-studies/northwind-logistics", "Case study: Northwind Logistics"),
    WebPage("/case-studies/romashka-retail", "Case study: Romashka Retail"),
    WebPage("/case-studies/atlas-health", "Case study: Atlas Health"),
    WebPage("/product/segments", "Segments"),
    WebPage("/product/identity-resolution", "Identity resolution"),
    WebPage("/demo", "Book a demo"),
    WebPage("/webinars/segmentation-masterclass", "Webinar: segmentation masterclass"),
    WebPage("/webinars/lead-scoring-live", "Webinar: lead scoring live"),
    WebPage("/whitepapers/cdp-buyers-guide", "Whitepaper: the CDP buyer's guide"),
)
SERVICE = (
    WebPage("/docs", "Documentation"),
    WebPage("/docs/getting-started", "Getting started"),
    WebPage("/docs/api", "API reference"),
    WebPage("/support", "Support"),
    WebPage("/account/orders", "Your orders"),
)
NOISE = (
    WebPage("/about", "About us"),
    WebPage("/careers", "Careers"),
    WebPage("/contact", "Contact"),
)
CHECKOUT = WebPage("/checkout", "Checkout")

#: page pools per temperature, with weights
PAGE_MIX: dict[str, dict[tuple[WebPage, ...], float]] = {
    "cold": {BLOG: 0.75, CONSIDER: 0.15, NOISE: 0.10},
    "warm": {BLOG: 0.35, CONSIDER: 0.50, SERVICE: 0.05, NOISE: 0.10},
    "hot": {BLOG: 0.20, CONSIDER: 0.25, SERVICE: 0.50, NOISE: 0.05},
}


class Source(NamedTuple):
    name: str
    referrer: str
    utm: tuple[str, str] | None  # (utm_source, utm_medium)
    click_id: str | None  # "gclid" | "fbclid" | None


DIRECT = Source("direct", "", None, None)
SOURCES: dict[Source, float] = {
    DIRECT: 0.25,
    Source("organic", "https://www.google.com/", None, None): 0.25,
    Source("google_ads", "https://www.google.com/", ("google", "cpc"), "gclid"): 0.15,
    Source("facebook_ads", "https://l.facebook.com/", ("facebook", "paid_social"), "fbclid"): 0.08,
    Source("linkedin", "https://www.linkedin.com/", ("linkedin", "social"), None): 0.10,
    Source("newsletter", "", ("newsletter", "email"), None): 0.10,
    Source("yandex", "https://yandex.ru/", ("yandex", "cpc"), None): 0.04,
    Source("hn", "https://news.ycombinator.com/", None, None): 0.03,
}
#: utm_campaign values per utm_source
CAMPAIGNS: dict[str, tuple[str, ...]] = {
    "google": ("brand-search", "cdp-buyers-guide", "lead-scoring-ebook", "competitor-terms"),
    "facebook": ("retargeting-q3", "spring-webinar-2026", "black-friday-2025"),
    "linkedin": ("segmentation-masterclass", "abm-decision-makers", "cdp-buyers-guide"),
    "newsletter": ("monthly-digest", "release-notes", "webinar-invite"),
    "yandex": ("brand-search-ru", "cdp-ru"),
}

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 YaBrowser/24.10.0.0 Safari/537.36",
)
LOCALES = {"ru": "ru-RU", "de": "de-DE", "fr": "fr-FR", "en": "en-US"}
LIBRARY = {"name": "analytics.js", "version": "next-1.74.0"}

#: the form a person fills in when they first leave their details
CONVERSIONS = {
    "cold": ("Whitepaper Downloaded", "Signed Up"),
    "warm": ("Whitepaper Downloaded", "Webinar Registered", "Demo Requested", "Signed Up"),
    "hot": ("Demo Requested", "Signed Up", "Trial Started"),
}
#: later actions of an identified person, with weights
LATER_ACTIONS: dict[str, dict[str, float]] = {
    "cold": {"Whitepaper Downloaded": 1.0},
    "warm": {
        "Webinar Registered": 0.35,
        "Demo Requested": 0.2,
        "Trial Started": 0.2,
        "Whitepaper Downloaded": 0.25,
    },
    "hot": {"Webinar Registered": 0.3, "Whitepaper Downloaded": 0.2, "Trial Started": 0.1},
}
WEBINARS = ("segmentation-masterclass", "lead-scoring-live", "churn-clinic")
WHITEPAPERS = ("cdp-buyers-guide", "b2b-journey-report-2026", "lead-scoring-benchmarks")
PLANS = (("starter", 49.0), ("growth", 299.0), ("business", 1490.0), ("enterprise", 5900.0))
CURRENCIES = {"RU": "RUB", "KZ": "KZT", "US": "USD", "CA": "CAD", "GB": "GBP", "JP": "JPY"}
FX = {"RUB": 95.0, "KZT": 480.0, "USD": 1.0, "CAD": 1.35, "GBP": 0.79, "JPY": 150.0, "EUR": 0.92}
COMPLAINT_TYPES = ("billing", "data quality", "integration", "delivery delay", "support response")
#: typical minutes until a complaint is resolved, per channel (phone 5 min, social 1 h, email 24 h)
RESOLVE_MINUTES = {"phone": (2, 30), "social": (10, 180), "email": (60, 2880)}
