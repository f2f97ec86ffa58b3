"""The connector registry: the built-in connectors, then the ones installed as entry points.

The SDK (``connectors.base``) never imports a vendor; this module is the one place that
knows them all, so the vendors can import the SDK without a circle.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from connectors.ads import LeadFormConnector
from connectors.base import ENTRY_POINT_GROUP, Connector, ConnectorError
from connectors.crm import CrmCsvConnector
from connectors.email import SendGridConnector
from connectors.esp import EspCsvConnector
from connectors.gads import GoogleAdsConversionsConnector
from connectors.hubspot import HubSpotWebhookConnector
from connectors.mailchimp import MailchimpConnector
from connectors.web import WebConnector

log = logging.getLogger(__name__)

BUILTIN: tuple[type[Connector], ...] = (
    WebConnector,
    SendGridConnector,
    MailchimpConnector,
    EspCsvConnector,
    CrmCsvConnector,
    HubSpotWebhookConnector,
    LeadFormConnector,
    GoogleAdsConversionsConnector,
)


def builtin() -> dict[str, type[Connector]]:
    """The connectors that ship with Kindred, by name."""
    return {c.name: c for c in BUILTIN}


#: family names accepted as aliases of the connectors
ALIASES = {
    "segment": "web",
    "rudderstack": "web",
    "email": "sendgrid",
    "ads": "leadform",
    "facebook": "leadform",
    "google_ads": "gads",
    "sendsay": "esp",
    "unisender": "esp",
}


@lru_cache(maxsize=1)
def available() -> dict[str, type[Connector]]:
    """Every connector: built-ins first, then entry points (which may not shadow built-ins).
    Read once per process; call ``available.cache_clear()`` after installing a connector."""
    found = builtin()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            cls = ep.load()
        except Exception:  # a broken plug-in must not take the built-ins down with it
            log.exception("cannot load connector entry point %r (%s)", ep.name, ep.value)
            continue
        if isinstance(cls, type) and issubclass(cls, Connector):
            found[ep.name] = cls
        else:
            log.warning("entry point %r is not a Connector subclass; ignored", ep.name)
    return found


def connects_to(connector: Connector, source_connector: str) -> bool:
    """Whether ``connector`` may feed a source created for ``source_connector``."""
    try:
        own = get_connector(source_connector).name
    except ConnectorError:
        own = source_connector
    return own == connector.name or own in connector.shares_sources_with


def get_connector(name: str) -> Connector:
    registry = available()
    key = ALIASES.get(name, name)
    if key not in registry:
        known = ", ".join(sorted(registry))
        raise ConnectorError(
            f"unknown connector {name!r}; known: {known}", status_code=404, code="unknown_connector"
        )
    return registry[key]()
