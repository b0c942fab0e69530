from __future__ import annotations

import pytest

from signalyard.transforms.hashing import canonical_hash, looks_hashed, sha256_hex

SHA = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
MD5 = "5d41402abc4b2a76b9719d911017c592"


def test_sha256_hex_is_lowercase_hex_of_utf8() -> None:
    assert sha256_hex("john_smith@gmail.com") == SHA
    assert sha256_hex("정") == "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"


@pytest.mark.parametrize(
    "value",
    [
        SHA,
        SHA.upper(),
        MD5,
        MD5.upper(),
        f"{SHA}.AQQCAQMB",  # 8-char param-builder appendix
        f"{SHA}.Ag",  # legacy 2-char language token
        f"{MD5}.BA",
        f"{SHA}.A_-zA9xY",
    ],
)
def test_looks_hashed(value: str) -> None:
    assert looks_hashed(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "john@example.com",
        SHA[:-1],  # 63 hex
        SHA + "0",  # 65 hex
        MD5[:-1],
        "g" + SHA[1:],  # not hex
        f"{SHA}.ABC",  # appendix of 3 chars
        f"{SHA}.AQQCAQM",  # 7
        f"{SHA}.AQ+CAQMB",  # not base64url
        f"{SHA}.",
        f" {SHA}",
        "0" * 48,
    ],
)
def test_does_not_look_hashed(value: str) -> None:
    assert not looks_hashed(value)


def test_canonical_hash_lowercases_the_digest_and_keeps_the_appendix() -> None:
    assert canonical_hash(SHA.upper()) == SHA
    assert canonical_hash(f"{SHA.upper()}.AQQCAQMB") == f"{SHA}.AQQCAQMB"
    assert canonical_hash(f"{MD5}.Bg") == f"{MD5}.Bg"
