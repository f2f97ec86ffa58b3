"""SendGrid Event Webhook bodies for the people on the mailing list."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from samples.demo import webpages as site
from samples.demo.people import Profile
from samples.demo.variants import between, chance, choose, digits, messy_email, token

MAX_EVENTS_PER_POST = 500
Timed = tuple[int, dict[str, Any]]
_HEX = "0123456789abcdef"
_BOUNCES = (
    ("5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."),
    ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled."),
    ("5.7.1", "554 5.7.1 Message rejected due to local policy"),
)
_OPEN_ODDS = {"hot": 0.45, "warm": 0.38, "cold": 0.15}


@dataclass(frozen=True)
class _Send:
    at: datetime
    category: str | list[str]
    campaign: str
    path: str
    asm_group_id: int
    odds: float  # P(a subscriber gets this send)
    campaign_id: int | None = None


def sendgrid_payloads(
    rng: random.Random, profiles: list[Profile], now: datetime
) -> list[list[dict[str, Any]]]:
    schedule = _schedule(rng, now)
    events: list[Timed] = []
    for p in profiles:
        if "email" in p.planned:
            events.extend(_mailbox(rng, p, schedule, now))
            p.add_id("email", p.email)
    events.sort(key=lambda item: item[0])
    payloads: list[list[dict[str, Any]]] = []
    i = 0
    while i < len(events):
        size = rng.randint(50, MAX_EVENTS_PER_POST)
        payloads.append([e for _, e in events[i : i + size]])
        i += size
    return payloads


def _schedule(rng: random.Random, now: datetime) -> list[_Send]:
    start = now - timedelta(days=540)
    sends: list[_Send] = []
    month = 0
    while (at := start + timedelta(days=30 * month + rng.randint(0, 3))) < now:
        name = f"digest-{at:%Y-%m}"
        path = choose(rng, site.BLOG).path
        sends.append(_Send(at, ["newsletter"], name, path, 101, 0.45, 20_000 + month))
        if month % 2 == 1:
            webinar = choose(rng, site.WEBINARS)
            at2 = at + timedelta(days=10)
            sends.append(_Send(at2, "webinar-invite", webinar, f"/webinars/{webinar}", 102, 0.3))
        if month % 3 == 2:
            at3 = at + timedelta(days=20)
            sends.append(
                _Send(at3, ["product-update", "newsletter"], "release-notes", "/docs", 103, 0.3)
            )
        month += 1
    return [s for s in sends if s.at < now]


class _Mail:
    """The events of one message to one address."""

    def __init__(
        self, rng: random.Random, send: _Send, address: str, now: datetime, out: list[Timed]
    ) -> None:
        self.rng, self.send, self.address, self.now, self.out = rng, send, address, now, out
        self.sg_message_id = (
            f"{token(rng, 22)}.filterdrecv-{digits(rng, 4)}-{token(rng, 8, _HEX)}-1.0"
        )
        self.smtp_id = f"<{self.sg_message_id.split('.')[0]}@ismtpd0001p1lon1.sendgrid.net>"

    def emit(self, kind: str, at: datetime, **extra: Any) -> None:
        ts = int(min(at, self.now).timestamp())
        item: dict[str, Any] = {"email": self.address, "timestamp": ts, "event": kind}
        item |= {"sg_event_id": token(self.rng, 22), "sg_message_id": self.sg_message_id}
        item["category"] = self.send.category
        if self.send.campaign_id is not None:
            item["marketing_campaign_id"] = self.send.campaign_id
            item["marketing_campaign_name"] = self.send.campaign
        self.out.append((ts, item | extra))


def _mailbox(rng: random.Random, p: Profile, schedule: list[_Send], now: datetime) -> list[Timed]:
    """Everything that happened to one subscriber's mail, as (unix time, event) pairs."""
    address = messy_email(rng, p.email).strip() if chance(rng, 0.25) else p.email
    joined = between(rng, p.first_touch, p.last_touch)
    welcome_at = joined + timedelta(minutes=2)
    welcome = _Send(welcome_at, "onboarding", "welcome", "/docs/getting-started", 104, 1.0)
    mine = [welcome] + [s for s in schedule if s.at > joined and chance(rng, s.odds)]
    out: list[Timed] = []
    for send in mine:
        mail = _Mail(rng, send, address, now, out)
        at = send.at + timedelta(seconds=rng.randint(0, 600))
        mail.emit("processed", at, **{"smtp-id": mail.smtp_id})
        at += timedelta(seconds=rng.randint(1, 90))
        if chance(rng, 0.015):
            status, reason = choose(rng, _BOUNCES)
            mail.emit("bounce", at, reason=reason, status=status, type="bounce")
            break
        mail.emit("delivered", at, response="250 OK", tls=1, **{"smtp-id": mail.smtp_id})
        odds = _OPEN_ODDS[p.temperature] * (0.4 if send.at > p.last_touch else 1.0)
        if not chance(rng, odds):
            continue
        seen = {"useragent": choose(rng, site.USER_AGENTS)}
        seen["ip"] = ".".join(str(rng.randint(1, 223)) for _ in range(4))
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            at += timedelta(minutes=rng.randint(1, 3000))
            mail.emit("open", at, sg_machine_open=False, **seen)
        if chance(rng, 0.3):
            at += timedelta(seconds=rng.randint(5, 120))
            utm = f"utm_source=sendgrid&utm_medium=email&utm_campaign={send.campaign}"
            offset = {"index": 0, "type": "html"}
            mail.emit("click", at, url=f"{site.SITE}{send.path}?{utm}", url_offset=offset, **seen)
        roll = rng.random()
        if roll < 0.006:
            mail.emit("unsubscribe", at + timedelta(seconds=30), **seen)
            break
        if roll < 0.012:
            group = send.asm_group_id
            mail.emit("group_unsubscribe", at + timedelta(seconds=30), asm_group_id=group, **seen)
            break
        if roll < 0.014:
            mail.emit("spamreport", at + timedelta(minutes=2))
            break
    return out
