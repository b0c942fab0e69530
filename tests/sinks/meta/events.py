"""Canonical events as the store hands them to the Meta sink (normalized and hashed)."""

from __future__ import annotations

from typing import Any

from tests.sinks.canonical import EVENT_TIME as EVENT_TIME
from tests.sinks.canonical import device
from tests.sinks.canonical import minimal as minimal

# sha256 of "john_smith@gmail.com" and "16505551212" (reference §3.5)
EM = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
PH = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"


def full() -> dict[str, Any]:
    return {
        "_received_at": 1_799_996_401.5,
        "_consent": {"meta": "granted"},
        "event_name": "Purchase",
        "event_time": EVENT_TIME,
        "event_id": "order-1001",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/thanks",
        "referrer_url": "https://shop.example/checkout",
        "opt_out": False,
        "user_data": {
            "em": [EM],
            "ph": [PH],
            "external_id": ["a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"],
            **device(),
            "_source_fields": ["email", "phone"],
        },
        "custom_data": {
            "currency": "EUR",
            "value": 142.52,
            "content_type": "product",
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 50.0},
                {"id": "SKU-2", "quantity": 1, "item_price": 42.52},
            ],
            "order_id": "1001",
            "delivery_category": "home_delivery",
            "_raw_total": "142,52 €",
        },
        "data_processing_options": ["LDU"],
        "data_processing_options_country": 1,
        "data_processing_options_state": 1000,
        "app_data": {
            "advertiser_tracking_enabled": 1,
            "application_tracking_enabled": 1,
            "extinfo": ["i2", "example.shop", "1.0", "1.0.0", "18.0", "iPhone16,1"] + [""] * 10,
        },
        "messaging_channel": "whatsapp",
        "original_event_data": {"event_name": "Lead", "event_time": EVENT_TIME - 86_400},
        "customer_segmentation": "new_customer_to_business",
        "attribution_data": {"ad_id": "120200000000000001", "attribution_share": 0.5},
        "advanced_measurement_table": "amt_example",
        "unknown_field": "dropped: Meta does not know it",
        "event_source_url_hint": None,
    }
