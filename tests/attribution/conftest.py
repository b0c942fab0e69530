"""The gateway and shop fixtures of the ingest tests, for attribution's end-to-end tests."""

from tests.sources.conftest import gateway, make_gateway
from tests.sources.test_shopify import make_shop, shop

__all__ = ["gateway", "make_gateway", "make_shop", "shop"]
