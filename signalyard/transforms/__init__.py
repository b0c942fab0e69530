"""The transforms stage: pure functions from a raw server event to an accepted one. No I/O.

- :mod:`.validate`: Meta's server-event rules (``validate_event``) and the baseline
  customer-information rule (``check_baseline``).
- :mod:`.enrich`: ``fbc`` from the ``fbclid`` of the page URL, an ``event_id`` when missing.
- :mod:`.normalize`: one normalizer per hashed ``user_data`` key; phones are in
  :mod:`.phone`, dates of birth in :mod:`.birthdate` (both re-exported by ``normalize``).
- :mod:`.hashing`: SHA-256, and recognising values already hashed.
- :mod:`.user_data`: ``clean_user_data``: normalize + hash, plaintext keys kept, warnings.
- :mod:`.identity`: identity variants (other platforms' hashing rules, e.g. ``ph.e164``),
  made from the normalized plaintext at ingest and stored as ``_identity``.
- :mod:`.pipeline`: ``clean_event``, all of the above in order, to an ``AcceptedEvent``.
"""
