"""Webhook signatures as the Standard Webhooks specification defines them.

Each delivery carries three headers: ``webhook-id`` (the message id, the same on every retry,
so receivers can drop duplicates), ``webhook-timestamp`` (integer seconds since the epoch of
this attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` over
``"{id}.{timestamp}.{body}"``, keyed with the base64-decoded part of a ``whsec_`` secret.
The HMAC is the reference implementation's (the ``standardwebhooks`` package, typed and
without dependencies), so what receivers verify with it is exactly what the hub signed.
"""

from __future__ import annotations

import base64
import math
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def new_signing_secret() -> str:
    """A fresh 256-bit secret in the Standard Webhooks form ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt made at ``at`` (UTC)."""
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(math.floor(at.timestamp())),
        SIGNATURE_HEADER: Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body),
    }
