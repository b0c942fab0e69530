"""A realistic sample event, used by ``signalyard send-test`` and the docs."""

from __future__ import annotations

import uuid
from typing import Any


def sample_purchase(now: float) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(now),
        "event_id": "send-test-" + uuid.uuid4().hex[:12],
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout/thank-you?fbclid=IwAR2F4-dbP0l7Mn",
        "user_data": {
            "em": ["Jane.Doe@Example.com"],
            "ph": ["+1 (650) 555-1212"],
            "fn": "Jane",
            "ln": "Doe",
            "ct": "Menlo Park",
            "st": "California",
            "zp": "94025",
            "country": "US",
            "external_id": "customer-1042",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1",
            "fbp": "fb.1.1700000000000.1234567890",
        },
        "custom_data": {
            "currency": "USD",
            "value": 129.5,
            "content_type": "product",
            "contents": [{"id": "SKU-42", "quantity": 1, "item_price": 129.5}],
            "order_id": "ORDER-1042",
        },
    }
