"""Segment messages (page, identify, track, group) for the people who visit the website."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from samples.demo import webpages as site
from samples.demo.companies import short_name
from samples.demo.people import Profile
from samples.demo.variants import between, chance, choose, iso_z, messy_email, new_uuid, pick
from samples.demo.variants import token as _token

Timed = tuple[datetime, dict[str, Any]]


@dataclass(frozen=True)
class _Device:
    anon: str
    user_agent: str
    ip: str
    locale: str


def web_messages(rng: random.Random, profiles: list[Profile]) -> list[Timed]:
    """All web messages of all visitors, ordered by time (stable, so per person too)."""
    out: list[Timed] = []
    users = 0
    for p in profiles:
        if "web" not in p.planned:
            continue
        identifies = p.temperature == "hot" or chance(rng, 0.9 if p.temperature == "warm" else 0.5)
        users += identifies
        out.extend(_Journey(rng, p, f"usr_{users}" if identifies else None).run())
    out.sort(key=lambda item: item[0])
    return out


class _Journey:
    """One person's visits: anonymous browsing, identify, actions, orders, complaints."""

    def __init__(self, rng: random.Random, p: Profile, user_id: str | None) -> None:
        self.rng, self.p, self.user_id = rng, p, user_id
        self.devices = [self._new_device()]
        self.device = self.devices[0]
        self.known: set[str] = set()  # anonymousIds that have been identified
        self.known_at: datetime | None = None
        self.page: dict[str, Any] = {}
        self.campaign: dict[str, str] | None = None
        self.msgs: list[Timed] = []

    def run(self) -> list[Timed]:
        p, rng = self.p, self.rng
        n = {"cold": rng.randint(1, 3), "warm": rng.randint(2, 7), "hot": rng.randint(3, 9)}
        times = [between(rng, p.first_touch, p.last_touch) for _ in range(n[p.temperature] - 1)]
        times = sorted([p.first_touch, *times])
        early = [i for i, t in enumerate(times) if not p.purchases or t < p.purchases[0]]
        id_session = choose(rng, early[: max(1, (len(early) + 1) // 2)]) if self.user_id else -1
        for i, t in enumerate(times):
            if 0 <= id_session < i and len(self.devices) == 1 and chance(rng, 0.2):
                self.devices.append(self._new_device())
            self.device = choose(rng, self.devices)
            t = self._session(t, landing=i == 0)
            if i == id_session:
                t = self._identify(t)
                t = self._action(t, choose(rng, site.CONVERSIONS[p.temperature]))
                if chance(rng, 0.6):
                    self._group(t)
            elif 0 <= id_session < i and chance(rng, 0.5):
                t = self._identify(t) if self.device.anon not in self.known else t
                self._action(t, pick(rng, site.LATER_ACTIONS[p.temperature]))
        if self.user_id:
            for t in p.purchases:
                self.device = choose(rng, self.devices)
                t = self._session(t, landing=False, pages=1)
                t = self._identify(t) if self.device.anon not in self.known else t
                self._order(t)
            complains = chance(rng, {"hot": 0.25, "warm": 0.05, "cold": 0.0}[p.temperature])
            if complains and self.known_at is not None:
                self._complaint(between(rng, self.known_at, p.last_touch))
        return self.msgs

    # ------------------------------------------------------------------ building blocks

    def _new_device(self) -> _Device:
        rng = self.rng
        ip = ".".join(str(rng.randint(a, b)) for a, b in ((23, 217), (0, 255), (0, 255), (1, 254)))
        locale = site.LOCALES[self.p.culture]
        return _Device(new_uuid(rng), choose(rng, site.USER_AGENTS), ip, locale)

    def _emit(self, kind: str, t: datetime, **fields: Any) -> None:
        d = self.device
        self.p.add_id("web", d.anon)
        msg: dict[str, Any] = {"type": kind, "messageId": new_uuid(self.rng), "anonymousId": d.anon}
        if self.user_id and d.anon in self.known:
            msg["userId"] = self.user_id
        context: dict[str, Any] = {"library": dict(site.LIBRARY), "locale": d.locale}
        context |= {"userAgent": d.user_agent, "ip": d.ip, "page": dict(self.page)}
        if self.campaign:
            context["campaign"] = dict(self.campaign)
        msg |= {"timestamp": iso_z(t), "context": context, **fields}
        self.msgs.append((t, msg))

    def _session(self, t: datetime, *, landing: bool, pages: int = 0) -> datetime:
        rng = self.rng
        src = pick(rng, site.SOURCES) if landing or chance(rng, 0.3) else site.DIRECT
        referrer = src.referrer
        self.campaign = None
        mix = self.p.temperature
        if mix == "hot" and t < self.p.purchases[0]:  # not a customer yet
            mix = "warm"
        for n in range(pages or rng.randint(1, 4)):
            pool = pick(rng, site.PAGE_MIX[mix])
            page = choose(rng, pool)
            url = site.SITE + page.path
            query = ""
            if n == 0 and src.utm:
                name = choose(rng, site.CAMPAIGNS[src.utm[0]])
                self.campaign = {"name": name, "source": src.utm[0], "medium": src.utm[1]}
                query = f"?utm_source={src.utm[0]}&utm_medium={src.utm[1]}&utm_campaign={name}"
                if src.click_id == "gclid":
                    gclid = "Cj0KCQiA" + _token(rng, 48)
                    self.p.gclids.append((t, gclid))
                    query += f"&gclid={gclid}"
                elif src.click_id == "fbclid":
                    query += f"&fbclid=IwAR{_token(rng, 52)}"
            self.page = {"path": page.path, "url": url + query, "title": page.title}
            self.page |= {"referrer": referrer, "search": query}
            self._emit("page", t, name=page.title, properties=dict(self.page))
            referrer = url
            t += timedelta(seconds=rng.randint(8, 300))
        return t

    def _identify(self, t: datetime) -> datetime:
        p, rng = self.p, self.rng
        self.known.add(self.device.anon)
        self.known_at = self.known_at or t
        traits = {
            "email": messy_email(rng, p.email) if chance(rng, 0.2) else p.email,
            "first_name": p.first_name_variant(rng, 0.25),
            "last_name": p.last_name_variant(rng),
            "company": p.company.name if chance(rng, 0.7) else short_name(p.company.name),
            "job_title": p.job_title if chance(rng, 0.85) else None,
            "phone": p.phone_variant(rng) if chance(rng, 0.7) else None,
        }
        self._emit("identify", t, userId=self.user_id, traits=_present(traits))
        assert self.user_id is not None
        p.add_id("web", self.user_id)
        return t + timedelta(seconds=self.rng.randint(1, 5))

    def _group(self, t: datetime) -> None:
        c = self.p.company
        traits = {"name": c.name, "industry": c.industry, "employees": c.employees}
        self._emit(
            "group",
            t,
            groupId="acct_" + c.domain.split(".")[0],
            traits=traits | {"domain": c.domain},
        )

    def _action(self, t: datetime, event: str) -> datetime:
        rng = self.rng
        props = _action_properties(rng, event)
        self._emit("track", t, event=event, properties=props)
        if event == "Webinar Registered" and chance(rng, 0.6):
            later = t + timedelta(days=rng.randint(2, 14), minutes=rng.randint(0, 30))
            if later <= self.p.last_touch + timedelta(days=14):
                self._emit(
                    "track",
                    later,
                    event="Webinar Attended",
                    properties=dict(props, minutes=rng.randint(5, 60)),
                )
        return t + timedelta(seconds=rng.randint(5, 60))

    def _order(self, t: datetime) -> None:
        rng, c = self.rng, self.p.company
        plans = (
            site.PLANS[:2]
            if c.employees < 50
            else site.PLANS[1:3]
            if c.employees < 500
            else site.PLANS[2:]
        )
        plan, price = choose(rng, plans)
        seats = rng.randint(1, 3 if c.employees < 50 else 20)
        currency = site.CURRENCIES.get(self.p.iso, "EUR" if c.region == "EMEA" else "USD")
        unit = round(price * site.FX[currency], 2)
        product = {
            "product_id": plan,
            "name": f"Kindred {plan.title()}",
            "price": unit,
            "quantity": seats,
        }
        props: dict[str, Any] = {
            "order_id": f"ord_{_token(rng, 10, '0123456789ABCDEFGHJKLMNPQRST')}"
        }
        props |= {"revenue": round(unit * seats, 2), "currency": currency, "products": [product]}
        self._emit("track", t, event="Order Completed", properties=props)

    def _complaint(self, t: datetime) -> None:
        rng = self.rng
        self.device = next(d for d in self.devices if d.anon in self.known)
        channel = pick(rng, {"phone": 0.4, "email": 0.4, "social": 0.2})
        props = {"complaint_id": f"cmp-{_token(rng, 8, '0123456789')}", "channel": channel}
        props["type"] = choose(rng, site.COMPLAINT_TYPES)
        self._emit("track", t, event="Complaint Submitted", properties=dict(props))
        lo, hi = site.RESOLVE_MINUTES[channel]
        minutes = rng.randint(lo, hi) if chance(rng, 0.8) else rng.randint(hi, hi * 4)
        done = t + timedelta(minutes=minutes)
        if chance(rng, 0.75) and done <= self.p.last_touch + timedelta(days=3):
            self._emit(
                "track",
                done,
                event="Complaint Resolved",
                properties=props | {"resolution_minutes": minutes},
            )
            if chance(rng, 0.5):
                rating = {"rating": rng.randint(1, 5), "survey": "csat"}
                self._emit(
                    "track",
                    done + timedelta(hours=rng.randint(1, 48)),
                    event="Survey Submitted",
                    properties=rating,
                )


def _action_properties(rng: random.Random, event: str) -> dict[str, Any]:
    if event == "Whitepaper Downloaded":
        return {"whitepaper": choose(rng, site.WHITEPAPERS), "format": "pdf"}
    if event == "Webinar Registered":
        return {"webinar": choose(rng, site.WEBINARS)}
    if event == "Demo Requested":
        return {"product": "kindred", "team_size": choose(rng, ("1-10", "11-50", "51-200", "200+"))}
    if event == "Signed Up":
        return {"plan": "free", "method": choose(rng, ("email", "google", "sso"))}
    return {"plan": "growth", "trial_days": 14}  # Trial Started


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
