"""Vendor-shaped samples for every built-in connector (field lists from the vendors'
published docs; the values are our own)."""

from __future__ import annotations

import json

from connectors.mailchimp import encode_form
from tests.contract.kit import Sample

WEB_BATCH = {
    "batch": [
        {
            "type": "page",
            "messageId": "pg-1",
            "anonymousId": "a-1",
            "name": "Pricing",
            "context": {"page": {"url": "https://kindred.test/pricing?utm_source=x&gclid=g1"}},
            "timestamp": "2026-11-01T10:00:00Z",
        },
        {
            "type": "identify",
            "messageId": "id-1",
            "anonymousId": "a-1",
            "userId": "u-1",
            "traits": {"email": "ann@example.com"},
        },
        {"type": "track", "messageId": "tr-1", "userId": "u-1", "event": "Demo Requested"},
        {"type": "group", "messageId": "gr-1", "userId": "u-1", "groupId": "acme"},
        {"type": "alias", "messageId": "al-1", "previousId": "a-1", "userId": "u-1"},
        {"type": "screen", "messageId": "sc-1", "userId": "u-1", "name": "Home"},
    ],
    "sentAt": "2026-11-01T10:00:05Z",
}
WEB_MIXED = {
    "batch": [
        {"type": "track", "messageId": "ok-1", "userId": "u-1", "event": "Signed Up"},
        {"type": "track", "messageId": "bad-1", "userId": "u-1"},
        {"type": "nonsense", "messageId": "bad-2", "userId": "u-1"},
        "not an object",
    ]
}

SENDGRID = [
    {
        "email": "ann@example.com",
        "timestamp": 1795000000,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": ["cat facts"] if event != "click" else "cat facts",
        "sg_event_id": f"sg-{event}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **extra,
    }
    for event, extra in (
        ("processed", {}),
        ("dropped", {"reason": "Bounced Address", "status": "5.0.0"}),
        ("delivered", {"response": "250 OK", "ip": "168.1.1.1", "tls": 1}),
        ("deferred", {"response": "400 try again later", "attempt": "5"}),
        ("bounce", {"reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce"}),
        ("open", {"useragent": "Mozilla/4.0", "ip": "255.255.255.255", "sg_machine_open": False}),
        ("click", {"url": "https://ex.com/?utm_source=sg", "url_offset": {"index": 0}}),
        ("spamreport", {}),
        ("unsubscribe", {}),
        ("group_unsubscribe", {"asm_group_id": 10}),
        ("group_resubscribe", {"asm_group_id": 10}),
    )
]

MAILCHIMP = encode_form(
    {
        "type": "subscribe",
        "fired_at": "2009-03-26 21:35:57",
        "data": {
            "id": "8a25ff1d98",
            "list_id": "a6b5da1054",
            "email": "api@mailchimp.com",
            "email_type": "html",
            "merges": {
                "EMAIL": "api@mailchimp.com",
                "FNAME": "Mailchimp",
                "LNAME": "API",
                "INTERESTS": "Group1,Group2",
            },
            "ip_opt": "10.20.10.30",
            "ip_signup": "10.20.10.30",
        },
    }
)

HUBSPOT = [
    {
        "objectId": 1246965,
        "propertyName": "lifecyclestage",
        "propertyValue": "subscriber",
        "changeSource": "ACADEMY_PORTAL",
        "eventId": 3816279340,
        "subscriptionId": 25,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1462216307945,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
    },
    {
        "objectId": 1246978,
        "changeSource": "IMPORT",
        "eventId": 3816279480,
        "subscriptionId": 22,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1462216307945,
        "subscriptionType": "contact.creation",
        "attemptNumber": 0,
    },
    {
        "objectId": 555,
        "eventId": 3816279481,
        "subscriptionId": 23,
        "portalId": 33,
        "occurredAt": 1462216307946,
        "subscriptionType": "company.creation",
        "attemptNumber": 0,
    },
    {
        "objectId": 777,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
        "eventId": 3816279482,
        "subscriptionId": 24,
        "portalId": 33,
        "occurredAt": 1462216307947,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
    },
]
HUBSPOT_MIXED = [
    HUBSPOT[0],
    {"subscriptionType": "contact.propertyChange", "eventId": 1},
    {"objectId": 1, "subscriptionType": "ticket.creation"},
]

FB_LEAD = {
    "id": "1234567890123456",
    "created_time": "2026-11-20T10:15:30+0000",
    "ad_id": "238500001",
    "form_id": "98765",
    "campaign_name": "Winter",
    "field_data": [
        {"name": "email", "values": ["mara@example.de"]},
        {"name": "full_name", "values": ["Mara Schulz"]},
    ],
}
GOOGLE_LEAD = {
    "lead_id": "TeSter-123",
    "api_version": "1.0",
    "form_id": 40000000000,
    "campaign_id": 20000000000,
    "google_key": "secret",
    "is_test": True,
    "gcl_id": "Cj0KCQ-test",
    "adgroup_id": 10000000000,
    "creative_id": 30000000000,
    "user_column_data": [
        {"column_name": "Full Name", "string_value": "Ana Ruiz", "column_id": "FULL_NAME"},
        {"column_name": "User Email", "string_value": "ana@example.es", "column_id": "EMAIL"},
    ],
}
FB_NOTIFICATION = {
    "object": "page",
    "entry": [
        {
            "id": "444444",
            "time": 1795000000,
            "changes": [
                {
                    "field": "leadgen",
                    "value": {
                        "ad_id": "238500001",
                        "form_id": "98765",
                        "leadgen_id": "1234567890123457",
                        "created_time": 1795000000,
                        "page_id": "444444",
                        "adgroup_id": "238500002",
                    },
                }
            ],
        }
    ],
}

CRM_CONTACTS = (
    "Record ID,First Name,Last Name,Email,Phone Number,Associated Company ID\n"
    "101,Ann,Lee,ann@example.com,+1 415 555 0134,900\n"
    "102,Ben,Okafor,ben@example.com,,\n"
)
CRM_MIXED = CRM_CONTACTS + ",No,Id,noid@example.com,,\n"

ESP_ACTIVITY = (
    "Email;Действие;Дата;Выпуск;Ссылка\n"
    "anna@example.ru;доставлено;2026-11-01 10:00;Ноябрь;\n"
    "anna@example.ru;открытие;2026-11-01 10:05;Ноябрь;\n"
    "anna@example.ru;переход;2026-11-01 10:06;Ноябрь;https://ex.ru/?utm_source=sendsay\n"
    "boris@example.ru;отписка;2026-11-01 11:00;Ноябрь;\n"
)
ESP_MIXED = ESP_ACTIVITY + "not-an-email;открытие;2026-11-01 10:05;Ноябрь;\n"

GADS = (
    "Parameters:TimeZone=Europe/Berlin\n"
    "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency\n"
    "Cj0KCQiA-first,Purchase,2026-11-01 10:00:00,120.50,EUR\n"
    "Cj0KCQiA-second,Signed Contract,2026-11-02 15:30:00+0100,5000,EUR\n"
)
GADS_MIXED = GADS + ",Purchase,2026-11-01 10:00:00,1,EUR\nCj0K-x,Purchase,yesterday,1,EUR\n"

SAMPLES: dict[str, Sample] = {
    "web": Sample(
        "web",
        payload=json.dumps(WEB_BATCH).encode(),
        mixed=(json.dumps(WEB_MIXED).encode(), 3),
        min_events=6,
    ),
    "sendgrid": Sample(
        "sendgrid",
        payload=json.dumps(SENDGRID).encode(),
        mixed=(json.dumps([*SENDGRID[:2], {"event": "open"}, {"email": "a@b.c"}]).encode(), 2),
        min_events=len(SENDGRID),
    ),
    "mailchimp": Sample(
        "mailchimp",
        payload=MAILCHIMP,
        content_type="application/x-www-form-urlencoded",
        mixed=(
            json.dumps(
                [
                    {"type": "profile", "data": {"email": "a@example.com"}},
                    {"type": "bogus", "data": {}},
                    {"type": "unsubscribe", "data": {}},
                ]
            ).encode(),
            2,
        ),
        min_events=3,
    ),
    "hubspot": Sample(
        "hubspot",
        payload=json.dumps(HUBSPOT).encode(),
        mixed=(json.dumps(HUBSPOT_MIXED).encode(), 2),
        min_events=4,
    ),
    "leadform": Sample(
        "leadform",
        payload=json.dumps([FB_LEAD, GOOGLE_LEAD, FB_NOTIFICATION]).encode(),
        mixed=(json.dumps([FB_LEAD, {"id": "1"}, 5]).encode(), 2),
        min_events=5,
    ),
    "crm": Sample(
        "crm",
        file=("contacts.csv", CRM_CONTACTS.encode()),
        mixed_file=("contacts.csv", CRM_MIXED.encode(), 1),
        min_events=2,
    ),
    "esp": Sample(
        "esp",
        file=("activity.csv", ESP_ACTIVITY.encode()),
        mixed_file=("activity.csv", ESP_MIXED.encode(), 1),
        min_events=5,
    ),
    "gads": Sample(
        "gads",
        file=("conversions.csv", GADS.encode()),
        mixed_file=("conversions.csv", GADS_MIXED.encode(), 2),
        min_events=2,
    ),
}
