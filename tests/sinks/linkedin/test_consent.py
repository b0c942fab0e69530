"""LinkedIn has no restricted-processing flag: ``ldu`` and ``no_pii`` both withhold the hashed
email, leaving LinkedIn's own click id; the stored event never changes."""

from __future__ import annotations

import copy

import pytest

from signalyard.sinks.linkedin.consent import apply_consent
from signalyard.sinks.linkedin.payload import CLICK_ID, build_element, unsendable

from . import events


@pytest.mark.parametrize("action", ["ldu", "no_pii"])
def test_withheld_email_kept_click_id(action: str) -> None:
    stored = events.full()
    before = copy.deepcopy(stored)
    sent = apply_consent(stored, action, "US-CA")
    assert stored == before
    assert set(sent["user_data"]) == {"client_user_agent"}
    assert "_identity" not in sent
    ids = build_element(sent, conversion_urn=events.RULE_URN)["user"]["userIds"]
    assert ids == [{"idType": CLICK_ID, "idValue": events.LI_FAT_ID}]


def test_without_a_click_id_the_event_is_then_unsendable() -> None:
    stored = events.full()
    stored["_click_ids"] = {}
    sent = apply_consent(stored, "no_pii", None)
    assert unsendable(build_element(sent, conversion_urn=events.RULE_URN)) is not None


def test_full_changes_nothing() -> None:
    stored = events.full()
    assert apply_consent(stored, "full", None) is stored
