"""Token checks for a media gateway (nginx ``auth_request``).

The gateway serves ``/{mode}/{camera_id}/{file}``: ``mode`` is ``live`` or ``footage``;
footage segments are named by the epoch second their recording starts (ffmpeg
``-strftime 1 -hls_segment_filename %s.ts``), which lets the hub hold every segment to the
token's footage window without knowing the recorder's index.

Every verdict is an audit event, and the verdict is answered only once its event is durable.
A verdict is the whole change, so it goes through the log's group commit
(``AuditAppender``): a burst of segment requests costs a few transactions, not one each.
If the event cannot be recorded the check fails closed (``VerdictNotRecorded``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jose import jwt
from jose.exceptions import JOSEError
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessToken
from sharing.audit.log import AuditAppender, EventDraft, new_event
from sharing.clock import Clock
from sharing.errors import Unauthenticated
from sharing.oauth.keys import KeyRing
from sharing.principal import Actor
from sharing.settings import Settings

_MEDIA_PATH = re.compile(
    r"^/(?P<mode>live|footage)/(?P<camera>[0-9a-fA-F-]{36})/(?P<file>[A-Za-z0-9._-]{1,100})$"
)
_SEGMENT_FILE = re.compile(r"^(?P<epoch>\d{9,11})\.(ts|m4s|mp4)$")
# A segment named by its start may begin this long before the window and still overlap it.
SEGMENT_SLACK_SECONDS = 10
GATEWAY = Actor.system("gateway")

log = logging.getLogger(__name__)


class VerdictNotRecorded(RuntimeError):
    """The verdict's audit event could not be made durable, so the verdict must not be used:
    serving media that the trail does not show would break its promise to the owners."""


@dataclass(frozen=True, slots=True)
class GatewayVerdict:
    """The answer for the gateway: 204 serve, 401 bad token, 403 token not for this."""

    status: int
    reason: str
    jti: str | None = None
    camera_id: str | None = None
    request_id: str | None = None
    claimed_jti: str | None = None  # from a token that failed verification: a lead, not a fact

    @property
    def allowed(self) -> bool:
        """Whether the gateway may serve the file."""
        return self.status == 204


def token_from(authorization: str | None, original_uri: str) -> str | None:
    """The token from ``Authorization: Bearer``, else from the media URL's ``token`` query."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    values = parse_qs(urlsplit(original_uri).query).get("token")
    return values[0] if values else None


async def check_media_request(
    session: AsyncSession,
    *,
    token: str | None,
    original_uri: str,
    keyring: KeyRing,
    settings: Settings,
    clock: Clock,
    audit_appender: AuditAppender,
) -> GatewayVerdict:
    """Check one media request; return the verdict once its audit event is durable.

    ``session`` is only read. Raises ``VerdictNotRecorded`` if the event could not be
    recorded, whatever the verdict was.
    """
    verdict = await _judge(session, token, original_uri, keyring, settings, clock)
    # End the read transaction and give its connection back before waiting for the batch's
    # commit: a burst of waiting checks must not hold the pool the appender writes through.
    await session.rollback()
    try:
        await audit_appender.append(
            _verdict_event(verdict, original_uri, clock),
            camera_ids=[verdict.camera_id.lower()] if verdict.camera_id else [],
        )
    except Exception as exc:  # any failure to record fails closed, not only database errors
        log.error("gateway verdict not recorded, refusing the request: %r", exc)
        raise VerdictNotRecorded(str(exc)) from exc
    return verdict


def _verdict_event(verdict: GatewayVerdict, original_uri: str, clock: Clock) -> EventDraft:
    return new_event(
        at=clock.now(),
        actor_party_id=GATEWAY.party_id,
        actor_member_id=GATEWAY.member_id,
        actor_client_id=GATEWAY.client_id,
        action="gateway.allowed" if verdict.allowed else "gateway.denied",
        object_type="access_token",
        object_id=verdict.jti or "-",
        outcome="allow" if verdict.allowed else "deny",
        purpose=None,
        details={
            "path": urlsplit(original_uri).path,
            "camera_id": verdict.camera_id,
            "request_id": verdict.request_id,
            "reason": verdict.reason,
            "claimed_jti": verdict.claimed_jti,
        },
    )


# Built once: the gateway runs it for every playlist and segment, and building a statement
# per call costs more CPU than running it.
_REVOKED_AT = select(col(AccessToken.revoked_at)).where(col(AccessToken.jti) == bindparam("jti"))


async def _judge(
    session: AsyncSession,
    token: str | None,
    original_uri: str,
    keyring: KeyRing,
    settings: Settings,
    clock: Clock,
) -> GatewayVerdict:
    path = _MEDIA_PATH.match(urlsplit(original_uri).path)
    if path is None:
        return GatewayVerdict(403, "not a media path this gateway serves")
    if token is None:
        return GatewayVerdict(401, "no access token", camera_id=path["camera"])
    await keyring.refresh_for(token, session)
    try:
        claims = keyring.verify(token, audience=settings.gateway_audience)
    except Unauthenticated as exc:
        return GatewayVerdict(
            401, exc.detail, camera_id=path["camera"], claimed_jti=_unverified_jti(token)
        )
    verdict = _match_claims(claims, path["mode"], path["camera"].lower(), path["file"])
    if not verdict.allowed:
        return verdict
    revoked_at = await session.scalar(_REVOKED_AT, {"jti": claims["jti"]})
    if revoked_at is not None:
        return GatewayVerdict(
            401, "the token was revoked", verdict.jti, verdict.camera_id, verdict.request_id
        )
    return verdict


def _unverified_jti(token: str) -> str | None:
    try:
        jti = jwt.get_unverified_claims(token).get("jti")
    except JOSEError:
        return None
    return str(jti)[:64] if jti is not None else None


def _match_claims(claims: dict[str, Any], mode: str, camera: str, file: str) -> GatewayVerdict:
    ids = {"jti": str(claims.get("jti")), "camera_id": camera, "request_id": str(claims.get("req"))}
    if claims.get("mode") != mode:
        return GatewayVerdict(403, f"the token is for {claims.get('mode')}, not {mode}", **ids)
    if camera not in {str(c).lower() for c in claims.get("cams", [])}:
        return GatewayVerdict(403, "the token does not cover this camera", **ids)
    if mode == "footage":
        segment = _SEGMENT_FILE.match(file)
        window = claims.get("win") or {}
        if segment is not None and not (
            int(window.get("start", 0)) - SEGMENT_SLACK_SECONDS
            <= int(segment["epoch"])
            <= int(window.get("end", -1))
        ):
            return GatewayVerdict(403, "the segment lies outside the token's footage window", **ids)
    return GatewayVerdict(204, "allowed", **ids)
