"""Ads connector: lead-form submissions from Facebook (Meta) Lead Ads and Google Ads.

The body is one lead or a JSON array of leads, in either vendor's shape:

- Facebook: a lead as the Graph API returns it (``id``, ``created_time``, ``field_data``, ad
  and campaign ids), or a row of the Leads Center / Ads Manager CSV export
  (``kindred import leadform leads.csv``; UTF-16 tab-separated files included).
- Facebook's leadgen *webhook notification* (``{"object": "page", "entry": [{"changes":
  [{"field": "leadgen", "value": {"leadgen_id", "form_id", "ad_id", ...}}]}]}``) only carries
  ids: it becomes the "Lead Form Submitted" track of ``lead:fb:<leadgen_id>`` (same message id
  as the full lead's, so it counts once); the answers arrive when the lead object (Graph API)
  or the CSV export is posted/imported. With ``app_secret`` in the source config the
  ``X-Hub-Signature-256`` header is required and checked. Meta signs no timestamp, so a
  captured notification has no replay window to fall out of: a replay is harmless because
  the events' message ids derive from the lead id (it changes nothing), and the URL's write
  key still has to match. ``verify_token`` answers the GET
  subscription handshake (``hub.mode=subscribe``, ``hub.verify_token``, ``hub.challenge``).
- Google: the lead form webhook body (``lead_id``, ``user_column_data``, ``gcl_id``, ...).

Each lead yields an ``identify`` (the person's answers as traits) and a ``track``
"Lead Form Submitted" (the ad, form and campaign), both about
``recordKey = "lead:<fb|google>:<lead id>"`` and with message ids derived from the lead id,
so a redelivered lead is a no-op. Google's ``google_key`` is a shared secret and is never
copied into events.
"""

from __future__ import annotations

from connectors.ads.connector import LeadFormConnector
from connectors.ads.lead import lead_traits

__all__ = ["LeadFormConnector", "lead_traits"]
