"""CRM connector: CSV exports of contacts, companies, deals and activities.

Header presets cover HubSpot, Salesforce (Lead / Contact / Account / Opportunity and activity
report columns), amoCRM and Bitrix24 (Russian headers); ``config["preset"]`` picks one when a
header means different things in two CRMs, and ``config["mapping_file"]`` names a JSON file
``{"kind": ..., "preset": ..., "mapping": {"Header": "field"}, "delimiter": ..., "encoding":
...}`` (the generic mapping option; keys set directly in the config win).

Each contact row becomes an ``identify`` event about ``recordKey = "contact:<id>"``; each
company row a ``group`` event with ``groupId = "crm:<id>"``. A deal row is a touchpoint on its
contact: track "Deal Stage Changed" (message id from deal id + stage, so re-importing the same
stage is a no-op and a new stage is a new touchpoint), plus "Deal Won"/"Deal Lost" when the
stage says so. An activity row (call, meeting, demo, complaint, email, note, task) is a track
on its contact ("Call Logged", "Meeting Held", "Demo Held", "Complaint Submitted", ...).

Headers match case-, space- and punctuation-insensitively (``"E-mail"``, ``"Email
Address"`` and ``email_address`` are all the email column); ``config["mapping"]`` overrides
the defaults; columns nobody mapped are kept as custom traits under their snake_cased header.
Message ids hash the source, kind and row, so importing the same file twice is a no-op while
an edited row is a new event.
"""

from connectors.crm.connector import CrmCsvConnector

__all__ = ["CrmCsvConnector"]
