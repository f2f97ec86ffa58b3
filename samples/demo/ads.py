"""Lead-form fills from ads: Facebook Lead Ads leads and Google Ads lead form webhook bodies."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from samples.demo.people import Profile
from samples.demo.variants import between, chance, choose, digits, messy_email, token

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_GOOGLE_COLUMNS = (
    ("FULL_NAME", "Full Name"),
    ("EMAIL", "User Email"),
    ("PHONE_NUMBER", "User Phone"),
    ("COMPANY_NAME", "Company Name"),
    ("JOB_TITLE", "Job Title"),
)


@dataclass(frozen=True)
class _Ad:
    """Where a lead came from: campaign, ad set / ad group, ad / creative, form."""

    campaign_id: str
    campaign_name: str
    group_id: str
    ad_id: str
    ad_name: str
    form_id: str


def lead_payloads(rng: random.Random, profiles: list[Profile]) -> list[dict[str, Any]]:
    fb_ads = [_ad(rng, name) for name in ("CDP buyers guide", "Webinar signups", "Free trial")]
    google_ads = [_ad(rng, name) for name in ("Search - CDP", "Search - Lead scoring")]
    timed: list[tuple[datetime, dict[str, Any]]] = []
    for p in profiles:
        if "ads" not in p.planned:
            continue
        for _ in range(2 if chance(rng, 0.1) else 1):
            if p.gclids and chance(rng, 0.8):  # the visit from a Google ad led to the form
                clicked, gclid = choose(rng, p.gclids)
                at = clicked + timedelta(seconds=rng.randint(20, 900))
                lead = _google(rng, p, choose(rng, google_ads), at, gclid)
            elif chance(rng, 0.55):
                at = between(rng, p.first_touch, p.last_touch)
                lead = _facebook(rng, p, choose(rng, fb_ads), at)
            else:
                at = between(rng, p.first_touch, p.last_touch)
                gclid = "EAIaIQob" + token(rng, 48)
                lead = _google(rng, p, choose(rng, google_ads), at, gclid)
            p.add_id("ads", str(lead.get("id") or lead["lead_id"]))
            timed.append((at, lead))
    timed.sort(key=lambda item: item[0])
    return [lead for _, lead in timed]


def _ad(rng: random.Random, name: str) -> _Ad:
    return _Ad(
        campaign_id=digits(rng, 17),
        campaign_name=f"{name} - {choose(rng, ('EMEA', 'NA', 'Global', 'CIS'))}",
        group_id=digits(rng, 17),
        ad_id=digits(rng, 17),
        ad_name=f"{name} - {choose(rng, ('carousel', 'video', 'static', 'responsive'))}",
        form_id=digits(rng, 15),
    )


def _answers(rng: random.Random, p: Profile, *, e164: bool) -> dict[str, str | None]:
    first = p.first_name_variant(rng, 0.3)
    last = p.last_name_variant(rng, 0.04)
    name = f"{last} {first}" if p.culture == "ru" and chance(rng, 0.3) else f"{first} {last}"
    phone = None
    if p.phone and chance(rng, 0.7):
        phone = p.phone.e164 if e164 and chance(rng, 0.8) else p.phone_variant(rng)
    return {
        "full_name": name,
        "email": messy_email(rng, p.email) if chance(rng, 0.3) else p.email,
        "phone_number": phone,
        "company_name": p.company.name if chance(rng, 0.8) else None,
        "job_title": p.job_title if chance(rng, 0.8) else None,
    }


def _facebook(rng: random.Random, p: Profile, ad: _Ad, at: datetime) -> dict[str, Any]:
    answers = _answers(rng, p, e164=True)
    return {
        "id": digits(rng, 16),
        "created_time": f"{at:%Y-%m-%dT%H:%M:%S}+0000",
        "ad_id": ad.ad_id,
        "ad_name": ad.ad_name,
        "adset_id": ad.group_id,
        "campaign_id": ad.campaign_id,
        "campaign_name": ad.campaign_name,
        "form_id": ad.form_id,
        "platform": "ig" if chance(rng, 0.35) else "fb",
        "is_organic": False,
        "field_data": [{"name": k, "values": [v]} for k, v in answers.items() if v is not None],
    }


def _google(rng: random.Random, p: Profile, ad: _Ad, at: datetime, gclid: str) -> dict[str, Any]:
    answers = list(_answers(rng, p, e164=False).values())
    columns = [
        {"column_id": column_id, "string_value": value, "column_name": column_name}
        for (column_id, column_name), value in zip(_GOOGLE_COLUMNS, answers, strict=True)
        if value is not None
    ]
    return {
        "lead_id": token(rng, 32, _ALNUM),
        "api_version": "1.0",
        "form_id": int(ad.form_id),
        "campaign_id": int(ad.campaign_id[:11]),
        "adgroup_id": int(ad.group_id[:11]),
        "creative_id": int(ad.ad_id[:12]),
        "gcl_id": gclid,
        "google_key": "demo",
        "is_test": False,
        "lead_submit_time": f"{at:%Y-%m-%d %H:%M:%S}+00:00",
        "user_column_data": columns,
    }
