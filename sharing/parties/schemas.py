"""Request and response shapes of the parties domain: parties, members and OAuth clients."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from sharing.vocabulary import PartyKind, Role, Scope

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

# JWK members that only private or symmetric keys carry (RFC 7518 sections 6.2.2, 6.3.2, 6.4;
# RFC 8037 section 2). A client registers its public keys; any of these means a leaked secret.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
ASYMMETRIC_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})


# --- Parties ------------------------------------------------------------------------------


class PartyCreate(BaseModel):
    """A party to register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(
        min_length=1,
        max_length=200,
        description="The party's official name.",
        examples=["Polrestabes Medan"],
    )
    kind: PartyKind = Field(description="What sort of party this is.", examples=["police"])
    parent_id: uuid.UUID | None = Field(
        default=None,
        description="The party this one sits under (a Polres under its Polda); must exist.",
        examples=["6f1c1a52-7a0e-4c59-9d55-3b8f0a1e2f10"],
    )


class PartyUpdate(BaseModel):
    """Changes to a party; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A new name. The party itself may change it.",
        examples=["Polrestabes Kota Medan"],
    )
    active: bool | None = Field(
        default=None,
        description="Deactivate (or reactivate) the party and every client of it. Admin only.",
        examples=[False],
    )


class PartyRead(BaseModel):
    """A party, as the directory shows it. The directory is not secret."""

    id: uuid.UUID = Field(description="The party's id.")
    name: str = Field(description="The party's name.", examples=["Polrestabes Medan"])
    kind: PartyKind = Field(description="What sort of party this is.", examples=["police"])
    parent_id: uuid.UUID | None = Field(description="The party this one sits under.")
    active: bool = Field(description="Whether the party and its clients may act.")
    created_at: datetime = Field(description="When the party was registered (UTC).")


class PartyPage(BaseModel):
    """One page of parties."""

    items: list[PartyRead] = Field(description="The parties on this page, ordered by name.")
    total: int = Field(description="How many parties match the filters.", examples=[12])
    limit: int = Field(description="The page size asked for.", examples=[DEFAULT_PAGE_SIZE])
    offset: int = Field(description="How many matching parties precede this page.", examples=[0])


# --- Members ------------------------------------------------------------------------------


class MemberCreate(BaseModel):
    """A person to add to a party."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(
        min_length=1, max_length=200, description="The person's name.", examples=["Iptu Rahmat"]
    )
    role: Role = Field(description="The person's role inside the party.", examples=["officer"])


class MemberRead(BaseModel):
    """A person acting for a party."""

    id: uuid.UUID = Field(description="The member's id; tokens acting for them name it.")
    party_id: uuid.UUID = Field(description="The party the member acts for.")
    name: str = Field(description="The person's name.", examples=["Iptu Rahmat"])
    role: Role = Field(description="The person's role inside the party.", examples=["officer"])
    active: bool = Field(description="Whether the member may act.")
    created_at: datetime = Field(description="When the member was added (UTC).")


# --- OAuth clients ------------------------------------------------------------------------


class ClientAuthMethod(StrEnum):
    """How a client proves itself at the token endpoint (RFC 7591 section 2)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    PRIVATE_KEY_JWT = "private_key_jwt"


class ClientCreate(BaseModel):
    """Software to register as an OAuth2 client of a party."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(
        min_length=1,
        max_length=200,
        description="What the software is.",
        examples=["Polrestabes command center VMS"],
    )
    member_id: uuid.UUID | None = Field(
        default=None,
        description="The member this client acts for, until members sign in themselves; "
        "must be a member of the party. Tokens then name the member as their subject.",
    )
    # Declared before ``jwks`` so that the jwks validator can see it.
    auth_method: ClientAuthMethod = Field(
        description="How the client authenticates; private_key_jwt is preferred.",
        examples=["private_key_jwt"],
    )
    jwks: dict[str, object] | None = Field(
        default=None,
        validate_default=True,
        description="The client's public keys as a JWK Set (RFC 7517 section 5); required for "
        "private_key_jwt, refused for client_secret_basic. Private key members are refused.",
        examples=[{"keys": [{"kty": "EC", "crv": "P-256", "x": "...", "y": "...", "kid": "k1"}]}],
    )
    scopes: list[Scope] = Field(
        min_length=1,
        description="The scopes the client may ask for. registry:admin only for the hub "
        "operator's own party.",
        examples=[["registry:read", "consent:read", "access:request"]],
    )

    @field_validator("jwks")
    @classmethod
    def _jwks_fits_auth_method(
        cls, jwks: dict[str, object] | None, info: ValidationInfo
    ) -> dict[str, object] | None:
        method = info.data.get("auth_method")
        if method is None:  # auth_method itself was invalid; that error is enough
            return jwks
        if method == ClientAuthMethod.CLIENT_SECRET_BASIC:
            if jwks is not None:
                raise invalid("only private_key_jwt clients register keys")
            return None
        if jwks is None:
            raise invalid("private_key_jwt clients must register their public keys")
        try:
            return public_jwk_set(jwks)
        except ValueError as exc:
            raise invalid(str(exc)) from None

    @field_validator("scopes")
    @classmethod
    def _scopes_are_distinct(cls, scopes: list[Scope]) -> list[Scope]:
        return list(dict.fromkeys(scopes))


class ClientRead(BaseModel):
    """A registered client. Secrets and their hashes are never shown."""

    client_id: str = Field(description="The OAuth client id.", examples=["k3J9...Qw"])
    party_id: uuid.UUID = Field(description="The party the client acts for.")
    member_id: uuid.UUID | None = Field(description="The member the client acts for, if any.")
    name: str = Field(description="What the software is.")
    auth_method: ClientAuthMethod = Field(
        description="How the client authenticates; private_key_jwt is preferred."
    )
    jwks: dict[str, object] | None = Field(description="The client's public keys, if any.")
    scopes: list[str] = Field(
        description="The scopes the client may ask for.", examples=[["registry:read"]]
    )
    active: bool = Field(description="Whether the client may obtain tokens.")
    created_at: datetime = Field(description="When the client was registered (UTC).")


class ClientRegistered(ClientRead):
    """A client just registered: the one response that carries its secret."""

    client_secret: str | None = Field(
        description="For client_secret_basic: the secret, shown this once and never again; "
        "the hub keeps only its hash. Empty for private_key_jwt.",
        examples=["Jx2...9Q"],
    )


def public_jwk_set(jwks: Mapping[str, object]) -> dict[str, object]:
    """Check that ``jwks`` is a JWK Set of asymmetric public keys; return it as a dict.

    Raises ``ValueError`` naming the first fault, so pydantic reports it against the field.
    """
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ValueError("must be a JWK Set: an object with a non-empty 'keys' list")
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise ValueError(f"keys[{index}] must be a JWK object")
        if key.get("kty") not in ASYMMETRIC_KEY_TYPES:
            raise ValueError(f"keys[{index}]: kty must be one of EC, RSA, OKP")
        leaked = sorted(PRIVATE_JWK_MEMBERS & key.keys())
        if leaked:
            raise ValueError(
                f"keys[{index}] carries private key members {leaked}; register public keys only"
            )
    try:
        KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a usable JWK Set: {exc}") from exc
    return {"keys": keys}


def invalid(reason: str) -> PydanticCustomError:
    """A validation error whose message is ``reason`` as written (no "Value error," prefix)."""
    return PydanticCustomError("invalid", "{reason}", {"reason": reason})
