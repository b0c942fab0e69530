"""Graph API error bodies, as Meta's ``/{dataset_id}/events`` edge answers them.

Every error the sandbox sends has the same shape (reference §1.6, §11.17)::

    {"error": {"message": "...", "type": "OAuthException", "code": 100,
               "error_subcode": 2804003, "is_transient": false,
               "error_user_title": "...", "error_user_msg": "...",
               "fbtrace_id": "..."}}

All eight keys are always present; ``error_subcode`` is ``null`` where Graph sends none.
Where Meta's real answer is known (token errors, 2804003, throttling) the wording follows it;
elsewhere the message says exactly which element and field broke which rule, using Graph's
bracket paths (``data[3][user_data][em]``). Messages never echo personal data.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

_EXPIRED_FMT = "%A, %d-%b-%y %H:%M:%S UTC"


def new_trace_id() -> str:
    """A random, base64url-looking trace id of 11 characters, like Graph's ``fbtrace_id``."""
    return secrets.token_urlsafe(8)


class GraphError(Exception):
    """An answer in Graph's error shape. Raised anywhere in request handling, rendered once."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        status: int = 400,
        subcode: int | None = None,
        title: str = "",
        user_msg: str = "",
        transient: bool = False,
        error_type: str = "OAuthException",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.subcode = subcode
        self.title = title
        self.user_msg = user_msg or message
        self.transient = transient
        self.error_type = error_type
        self.headers: dict[str, str] = dict(headers or {})

    def body(self, trace_id: str) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "code": self.code,
                "error_subcode": self.subcode,
                "is_transient": self.transient,
                "error_user_title": self.title,
                "error_user_msg": self.user_msg,
                "fbtrace_id": trace_id,
            }
        }


def path(index: int, *keys: str) -> str:
    """Graph's bracket path: ``path(3, "user_data", "em") == "data[3][user_data][em]"``."""
    return f"data[{index}]" + "".join(f"[{k}]" for k in keys)


# --- Auth ---------------------------------------------------------------------------------


def _oauth_headers(message: str) -> dict[str, str]:
    return {"www-authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'}


def missing_token() -> GraphError:
    msg = "An access token is required to request this resource."
    return GraphError(msg, code=104, title="Access token required", headers=_oauth_headers(msg))


def malformed_token() -> GraphError:
    msg = "Invalid OAuth access token - Cannot parse access token"
    return GraphError(
        msg,
        code=190,
        subcode=467,
        status=401,
        title="Invalid access token",
        headers=_oauth_headers(msg),
    )


def expired_token(expired_at: float, now: float) -> GraphError:
    def fmt(t: float) -> str:
        return time.strftime(_EXPIRED_FMT, time.gmtime(t))

    msg = (
        "Error validating access token: Session has expired on "
        f"{fmt(expired_at)}. The current time is {fmt(now)}."
    )
    return GraphError(
        msg,
        code=190,
        subcode=463,
        status=401,
        title="Session expired",
        user_msg="Your access token has expired. Generate a new one and try again.",
        headers=_oauth_headers(msg),
    )


def missing_appsecret_proof() -> GraphError:
    return GraphError(
        "API calls from the server require an appsecret_proof argument",
        code=100,
        title="appsecret_proof required",
    )


def invalid_appsecret_proof() -> GraphError:
    return GraphError(
        "Invalid appsecret_proof provided in the API argument",
        code=100,
        title="Invalid appsecret_proof",
        user_msg="appsecret_proof must be the hex HMAC-SHA256 of the access token "
        "keyed with the app secret.",
    )


# --- Routing ------------------------------------------------------------------------------


def unknown_path(path_: str) -> GraphError:
    return GraphError(
        f"Unknown path components: {path_}", code=2500, title="Unknown path components"
    )


def unsupported_request(method: str, object_id: str, hint: str = "") -> GraphError:
    msg = (
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
    )
    return GraphError(
        msg,
        code=100,
        subcode=33,
        title="Unsupported request",
        user_msg=hint or msg,
        error_type="GraphMethodException",
    )


# --- Parameters ---------------------------------------------------------------------------


def param_required(name: str) -> GraphError:
    return GraphError(
        f"(#100) The parameter {name} is required",
        code=100,
        title="Missing parameter",
        user_msg=f"{name} is required.",
    )


def param_invalid(name: str, rule: str) -> GraphError:
    return GraphError(
        f"(#100) param {name} {rule}",
        code=100,
        title="Invalid parameter",
        user_msg=f"{name} {rule}.",
    )


def body_too_large(limit: int) -> GraphError:
    return GraphError(
        f"(#100) The request body is larger than {limit} bytes",
        code=100,
        status=413,
        title="Request too large",
    )


def too_many_events(n: int, limit: int) -> GraphError:
    return GraphError(
        f"(#100) param data must contain at most {limit} events; this request has {n}",
        code=100,
        title="Too many events",
        user_msg=f"Send at most {limit} events per request; split the batch.",
    )


# --- Event rules (code 100 + 2804xxx) -----------------------------------------------------


def event_invalid(index: int, subcode: int, title: str, detail: str) -> GraphError:
    """A CAPI event rule: Meta says ``Invalid parameter``; we add which event and why."""
    return GraphError(
        f"Invalid parameter: data[{index}]: {detail}",
        code=100,
        subcode=subcode,
        title=title,
        user_msg=f"{detail} (event data[{index}]). The whole request was rejected; "
        "no event in it was processed.",
    )


def timestamp_too_old(index: int) -> GraphError:
    err = event_invalid(
        index,
        2804003,
        "Event Timestamp Too Old",
        "event_time is more than 7 days in the past",
    )
    err.user_msg = (
        "The timestamp for this event is too far in the past. Events need to be sent from "
        "your server within 7 days of when they occurred. Enter a timestamp that has "
        f"occurred within the last 7 days. (event data[{index}])"
    )
    return err


def insufficient_customer_information(index: int, keys: list[str]) -> GraphError:
    have = ", ".join(keys) if keys else "none"
    return event_invalid(
        index,
        2804050,
        "Insufficient customer information",
        "user_data has too few customer information parameters to match the event "
        f"(sent: {have}). Add em, ph, external_id, client_ip_address with "
        "client_user_agent, fbc or fbp",
    )


def purchase_needs_value(index: int, missing: list[str]) -> GraphError:
    return event_invalid(
        index,
        2804019,
        "Missing value or currency for Purchase",
        "Purchase events need custom_data."
        + " and custom_data.".join(missing)
        + " (a number and an ISO 4217 code)",
    )


def whatsapp_ids_missing(index: int) -> GraphError:
    return event_invalid(
        index,
        2804116,
        "Missing WhatsApp business identifiers",
        "business_messaging events from messaging_channel whatsapp need "
        "user_data.page_id or user_data.whatsapp_business_account_id",
    )


# --- Injected faults ----------------------------------------------------------------------


def server_error(status: int, code: int) -> GraphError:
    if code == 2:
        msg = "An unexpected error has occurred. Please retry your request later."
    else:
        msg = "An unknown error occurred"
    return GraphError(
        msg,
        code=code,
        status=status,
        subcode=99 if code == 1 else None,
        title="Temporary error",
        user_msg="Meta could not process the request now; retry with backoff.",
        transient=True,
    )


THROTTLE_MESSAGES: dict[int, tuple[str, int | None]] = {
    17: ("(#17) User request limit reached", 2446079),
    4: ("(#4) Application request limit reached", None),
    613: ("(#613) Calls to this api have exceeded the rate limit.", 1487742),
    80004: (
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try "
        "again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting"
        "#ads-management.",
        2446079,
    ),
}


def throttled(code: int, status: int, headers: Mapping[str, str]) -> GraphError:
    msg, subcode = THROTTLE_MESSAGES[code]
    return GraphError(
        msg,
        code=code,
        status=status,
        subcode=subcode,
        title="Too many calls",
        user_msg="Rate limit reached; wait estimated_time_to_regain_access minutes "
        "(X-Business-Use-Case-Usage) and retry.",
        transient=True,
        headers=headers,
    )


def injected_invalid_event(index: int, event_id: str) -> GraphError:
    return event_invalid(
        index,
        2804019,
        "Invalid event",
        f"event (event_id {event_id!r}) is invalid (sandbox fault invalid_event)",
    )


def internal_error() -> GraphError:
    return server_error(500, 2)
