"""The golden record: canonical trait names, survivorship (source priority, then recency)
with per-trait provenance, and per-channel consent derived from events and traits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from profiles.config import CHANNELS, ConsentConfig, Survivorship

#: source-specific trait names folded into one canonical name (after lower-casing; also tried
#: with every separator removed)
CANONICAL_TRAITS = {
    "e-mail": "email",
    "email_address": "email",
    "emailaddress": "email",
    "e_mail": "email",
    "mail": "email",
    "firstname": "first_name",
    "first name": "first_name",
    "givenname": "first_name",
    "lastname": "last_name",
    "last name": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "phone_number": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "mobilephone": "phone",
    "title": "job_title",
    "jobtitle": "job_title",
    "position": "job_title",
    "company_name": "company",
    "companyname": "company",
    "organization": "company",
    "organisation": "company",
    "countryregion": "country",
    "lifecyclestage": "lifecycle_stage",
    "hslifecyclestage": "lifecycle_stage",
    "leadstatus": "lead_status",
    "hsleadstatus": "lead_status",
    "numberofemployees": "employees",
    "employeecount": "employees",
    "annualrevenue": "annual_revenue",
}
#: internal bookkeeping keys of source records, never traits
_INTERNAL = frozenset({"__account__"})


def canonical_trait(name: str) -> str:
    key = name.strip().lower()
    squashed = "".join(ch for ch in key if ch.isalnum())
    if key in CANONICAL_TRAITS:
        return CANONICAL_TRAITS[key]
    if squashed in CANONICAL_TRAITS:
        return CANONICAL_TRAITS[squashed]
    return "_".join(key.replace("-", " ").split())


@dataclass(frozen=True)
class RecordTraits:
    """The part of a source record the golden record needs (ORM rows and test data alike)."""

    source: str
    record_key: str
    channel: str
    traits: dict[str, Any]
    trait_meta: dict[str, Any]
    last_seen: datetime


def _rank(priority: Sequence[str], source: str, channel: str) -> int:
    for i, name in enumerate(priority):
        if name in (source, channel):
            return i
    return len(priority)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def golden_record(
    records: Iterable[RecordTraits], *, survivorship: Survivorship | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Per canonical trait: the value of the most trusted source (``source_priority``, or the
    trait's own order in ``trait_priority``), then the most recent observation. Provenance
    names the winner, why it won and the values it beat."""
    rules = survivorship or Survivorship()
    candidates: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        for name, value in (rec.traits or {}).items():
            if name in _INTERNAL or _empty(value):
                continue
            canonical = canonical_trait(name)
            meta = (rec.trait_meta or {}).get(name) or {}
            at = str(meta.get("at") or rec.last_seen.isoformat())
            candidates.setdefault(canonical, []).append(
                {
                    "value": value,
                    "source": rec.source,
                    "channel": rec.channel,
                    "record_key": rec.record_key,
                    "at": at,
                    "original_name": name,
                }
            )
    traits: dict[str, Any] = {}
    provenance: dict[str, dict[str, Any]] = {}
    _name_group(candidates, rules)
    for canonical, options in candidates.items():
        priority = rules.trait_priority.get(canonical, rules.source_priority)
        # highest priority first, then newest; ties broken by source for determinism
        grouped = bool(options[0].get("group"))
        head, options = (options[:1], options[1:]) if grouped else ([], options)
        options.sort(key=lambda o: (o["source"], o["record_key"]))
        options.sort(key=lambda o: o["at"], reverse=True)
        options.sort(key=lambda o: _rank(priority, o["source"], o["channel"]))
        options = head + options
        win = options[0]
        ranked = _rank(priority, win["source"], win["channel"]) < len(priority)
        others = [o for o in options[1:] if o["value"] != win["value"]]
        if (
            others
            and ranked
            and _rank(priority, others[0]["source"], others[0]["channel"])
            > (_rank(priority, win["source"], win["channel"]))
        ):
            rule = "source_priority"
        else:
            rule = "most_recent"
        traits[canonical] = win["value"]
        provenance[canonical] = {
            "source": win["source"],
            "record_key": win["record_key"],
            "at": win["at"],
            "original_name": win["original_name"],
            "rule": rule,
            **({"group": "name"} if grouped else {}),
            "overridden": [
                {"value": o["value"], "source": o["source"], "at": o["at"]} for o in others[:5]
            ],
        }
    return traits, provenance


#: traits that describe one thing together: taken from one record, never mixed
NAME_GROUP = ("name", "first_name", "last_name")


def _name_group(candidates: dict[str, list[dict[str, Any]]], rules: Survivorship) -> None:
    """Survivorship of ``name``, ``first_name`` and ``last_name`` as one group: the record that
    wins (source priority of ``name``, then recency) gives all three; a part it lacks is
    derived from the parts it has (``name`` = first + last; first/last split from ``name``),
    so the golden record never reads "Andy Young" beside "Andrew" "Yung". Rewrites
    ``candidates`` in place: each group trait keeps only the winning record's option."""
    options = [o for t in NAME_GROUP for o in candidates.get(t, [])]
    if not options:
        return
    priority = rules.trait_priority.get("name", rules.source_priority)
    options.sort(key=lambda o: (o["source"], o["record_key"]))
    options.sort(key=lambda o: o["at"], reverse=True)
    options.sort(key=lambda o: _rank(priority, o["source"], o["channel"]))
    best = options[0]
    key = (best["source"], best["record_key"])
    own: dict[str, dict[str, Any]] = {}
    for t in NAME_GROUP:
        for o in candidates.get(t, []):
            if (o["source"], o["record_key"]) == key and t not in own:
                own[t] = o
    derived: dict[str, Any] = {}
    first, last, full = own.get("first_name"), own.get("last_name"), own.get("name")
    if full is None and (first or last):
        parts = [str(x["value"]).strip() for x in (first, last) if x is not None]
        derived["name"] = " ".join(p for p in parts if p)
    if full is not None and first is None and last is None:
        words = str(full["value"]).split()
        if len(words) >= 2:
            derived["first_name"] = words[0]
            derived["last_name"] = " ".join(words[1:])
    for t in NAME_GROUP:
        losers = [o for o in candidates.get(t, []) if o is not own.get(t)]
        if t in own:
            candidates[t] = [own[t], *losers]
        elif t in derived:
            base = full if t != "name" else (first or last)
            assert base is not None
            made = {**base, "value": derived[t], "original_name": f"from {base['original_name']}"}
            candidates[t] = [made, *losers]
        else:
            candidates.pop(t, None)
    for t in NAME_GROUP:
        if t in candidates:
            candidates[t] = [{**candidates[t][0], "group": True}, *candidates[t][1:]]


# --------------------------------------------------------------------------- consent

#: track events that withdraw (False) or give (True) consent for a channel
CONSENT_EVENTS: dict[str, tuple[str, bool]] = {
    "unsubscribed": ("email", False),
    "email unsubscribed": ("email", False),
    "email marked as spam": ("email", False),
    "spam reported": ("email", False),
    "resubscribed": ("email", True),
    "subscribed": ("email", True),
    "email subscribed": ("email", True),
    "sms unsubscribed": ("sms", False),
    "sms opted out": ("sms", False),
    "sms subscribed": ("sms", True),
    "sms opted in": ("sms", True),
    "ads opted out": ("ads", False),
    "ads opted in": ("ads", True),
}
#: traits (separators removed) -> (channels, the trait's value means consent when truthy?)
CONSENT_TRAITS: dict[str, tuple[tuple[str, ...], bool]] = {
    "emailconsent": (("email",), True),
    "emailoptin": (("email",), True),
    "emailsubscribed": (("email",), True),
    "newslettersubscriber": (("email",), True),
    "emailoptout": (("email",), False),
    "hsemailoptout": (("email",), False),
    "donotemail": (("email",), False),
    "unsubscribed": (("email",), False),
    "hasoptedoutofemail": (("email",), False),
    "smsconsent": (("sms",), True),
    "smsoptin": (("sms",), True),
    "smsoptout": (("sms",), False),
    "donottext": (("sms",), False),
    "adsconsent": (("ads",), True),
    "adconsent": (("ads",), True),
    "adsoptout": (("ads",), False),
    "marketingconsent": (CHANNELS, True),
    "gdprconsent": (CHANNELS, True),
    "donotcontact": (CHANNELS, False),
}
_TRUE = {"true", "yes", "y", "1", "on", "granted", "opted_in", "optedin", "subscribed"}
_FALSE = {"false", "no", "n", "0", "off", "denied", "opted_out", "optedout", "unsubscribed"}


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


@dataclass
class ConsentSignal:
    channel: str
    granted: bool
    at: str
    reason: str
    source: str


@dataclass
class ConsentInputs:
    signals: list[ConsentSignal] = field(default_factory=list)


def consent_signals_from_traits(records: Iterable[RecordTraits]) -> list[ConsentSignal]:
    out: list[ConsentSignal] = []
    for rec in records:
        for name, value in (rec.traits or {}).items():
            key = "".join(ch for ch in name.lower() if ch.isalnum())
            rule = CONSENT_TRAITS.get(key)
            if rule is None:
                continue
            truth = _truthy(value)
            if truth is None:
                continue
            channels, positive = rule
            meta = (rec.trait_meta or {}).get(name) or {}
            at = str(meta.get("at") or rec.last_seen.isoformat())
            for channel in channels:
                out.append(
                    ConsentSignal(
                        channel,
                        truth if positive else not truth,
                        at,
                        f"trait {name} = {value!r}",
                        rec.source,
                    )
                )
    return out


def consent_signal_from_event(
    name: str, at: datetime, source: str, properties: dict[str, Any]
) -> ConsentSignal | None:
    rule = CONSENT_EVENTS.get(name.strip().lower())
    if rule is None:
        return None
    channel, granted = rule
    return ConsentSignal(channel, granted, at.isoformat(), f"event {name}", source)


def derive_consent(
    signals: Iterable[ConsentSignal], *, config: ConsentConfig | None = None
) -> dict[str, dict[str, Any]]:
    """Per channel, the most recent signal wins; without any, the configured default."""
    default = (config or ConsentConfig()).default == "granted"
    latest: dict[str, ConsentSignal] = {}
    for sig in signals:
        cur: ConsentSignal | None = latest.get(sig.channel)
        # same instant: a withdrawal beats a grant (the safe reading)
        if cur is None or sig.at > cur.at or (sig.at == cur.at and not sig.granted):
            latest[sig.channel] = sig
    out: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        found = latest.get(channel)
        if found is None:
            out[channel] = {"granted": default, "reason": "default", "at": None, "source": None}
        else:
            out[channel] = {
                "granted": found.granted,
                "reason": found.reason,
                "at": found.at,
                "source": found.source,
            }
    return out
