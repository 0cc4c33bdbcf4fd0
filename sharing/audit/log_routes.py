"""HTTP routes of the verifiable audit log: keys, checkpoints, proofs, witnesses.

Checkpoints, consistency proofs and the witness list are public: they prove things about
the log and reveal no event. Inclusion proofs name an event, so they follow who may see it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from litestar import Controller, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, JSONBody, Parameter, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from sharing.audit import log_service, witnessing
from sharing.audit.log_schemas import (
    AuditLogInfo,
    CheckpointPage,
    CheckpointSigned,
    ConsistencyProof,
    CosignatureAccepted,
    InclusionProof,
    WitnessCreate,
    WitnessRead,
)
from sharing.dependencies import ClockDep, PrincipalDep, SessionDep, SettingsDep
from sharing.openapi import problem_responses

TEXT = "text/plain; charset=utf-8"
_PUBLIC: list[dict[str, list[str]]] = [{}]  # no credentials: these prove, they reveal nothing
_NOTE = ResponseSpec(
    str,
    description="The C2SP signed note: origin, size and base64 root, a blank line, the log's "
    "signature line, then one tlog-cosignature/v1 line per witness.",
    media_type="text/plain",
    generate_examples=False,
)


@dataclass
class _CosignatureUpload(Operation):
    """Documents the text/plain body, which Litestar reads raw and so cannot describe."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            description="One tlog-cosignature/v1 signature line per witness.",
            required=True,
            content={
                "text/plain": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING),
                    example="\u2014 hub.example/audit-log/witness BG5n0AAAAABr...==\n",
                )
            },
        )


class AuditLogController(Controller):
    """Checkpoints, inclusion and consistency proofs, and witnesses of the audit log."""

    path = "/audit"
    tags = ["audit log"]

    @get(
        "/log",
        summary="The audit log's keys and witnesses",
        description="The log's origin, the vkey that signs its checkpoints (and retired ones), "
        "the vkey this hub cosigns other logs with, its size and its active witnesses. "
        "Public; also linked as `audit_log_uri` from the authorization server metadata.",
        security=_PUBLIC,
    )
    async def log(
        self, session: SessionDep, settings: SettingsDep, clock: ClockDep
    ) -> AuditLogInfo:
        """Describe the log."""
        return await log_service.log_info(session, settings, clock)

    @get(
        "/checkpoints",
        summary="List signed checkpoints",
        description="Newest first, with each one's root hash and how many witnesses cosigned "
        "it. Public.",
        security=_PUBLIC,
        responses=problem_responses(422),
    )
    async def checkpoints(
        self,
        session: SessionDep,
        before: int | None = Parameter(
            default=None, ge=1, description="Only checkpoints smaller than this tree size."
        ),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> CheckpointPage:
        """A page of checkpoints."""
        return await log_service.list_checkpoints(session, before=before, limit=limit)

    @get(
        "/checkpoints/latest",
        summary="The latest checkpoint, as a signed note",
        description="What a witness or a verifier fetches: the latest checkpoint in the C2SP "
        "tlog-checkpoint signed-note form, with every stored cosignature. Public.",
        security=_PUBLIC,
        responses={HTTP_200_OK: _NOTE, **problem_responses(404)},
    )
    async def latest(self, session: SessionDep) -> Response[str]:
        """The latest signed note."""
        return Response(await log_service.checkpoint_text(session, None), media_type=TEXT)

    @get(
        "/checkpoints/{tree_size:int}",
        summary="One checkpoint, as a signed note",
        description="The checkpoint of `tree_size` leaves with every stored cosignature. Public.",
        security=_PUBLIC,
        responses={HTTP_200_OK: _NOTE, **problem_responses(404)},
    )
    async def checkpoint(self, session: SessionDep, tree_size: FromPath[int]) -> Response[str]:
        """One signed note."""
        return Response(await log_service.checkpoint_text(session, tree_size), media_type=TEXT)

    @post(
        "/checkpoints",
        summary="Sign a checkpoint now",
        description="Signs the log's head unless the latest checkpoint covers it: 201 with a "
        "new checkpoint, 200 with the covering one. Needs `registry:admin`. Not an audit "
        "event: a checkpoint is itself a signed statement about the log.",
        responses={
            HTTP_201_CREATED: ResponseSpec(
                CheckpointSigned, description="Signed now.", generate_examples=False
            ),
            **problem_responses(401, 403, 409),
        },
        status_code=HTTP_200_OK,
    )
    async def sign(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        clock: ClockDep,
    ) -> Response[CheckpointSigned]:
        """Sign now."""
        signed = await log_service.sign_now(session, principal, settings, clock)
        status = HTTP_201_CREATED if signed.created else HTTP_200_OK
        return Response(signed.checkpoint, status_code=status)

    @get(
        "/events/{event_id:int}/inclusion",
        summary="Prove an event is in the log",
        description="RFC 9162 `inclusion_proof_v2` of the event (its id is its leaf index) in "
        "a checkpoint: `tree_size` (a checkpointed size above the id) or by default the "
        "latest, signed now if the event is newer. Returns the leaf hash and the checkpoint's "
        "note too. Needs `audit:read`, and the event must be one the caller may see: the "
        "hub's operator and auditors see all, a party those it caused and those concerning "
        "its cameras; others get 404. An archived event (`sharing audit archive --prune`) is "
        "still proven from the tree, with `archived` true and no content, to those who see "
        "all; see docs/audit-verification.md.",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def inclusion(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        clock: ClockDep,
        event_id: FromPath[int],
        tree_size: int | None = Parameter(
            default=None, ge=1, description="A checkpointed size; the latest by default."
        ),
    ) -> InclusionProof:
        """An inclusion proof."""
        return await log_service.inclusion_proof(
            session, principal, settings, clock, event_id, tree_size
        )

    @get(
        "/consistency",
        summary="Prove one checkpoint extends another",
        description="RFC 9162 `consistency_proof_v2` from the checkpoint of `first` leaves to "
        "the checkpoint of `second` leaves; both must be checkpointed sizes, `first` <= "
        "`second`. Public.",
        security=_PUBLIC,
        responses=problem_responses(404, 422),
    )
    async def consistency(
        self,
        session: SessionDep,
        settings: SettingsDep,
        first: int = Parameter(ge=1, description="The older checkpoint's size."),
        second: int = Parameter(ge=1, description="The newer checkpoint's size."),
    ) -> ConsistencyProof:
        """A consistency proof."""
        return await log_service.consistency_proof(session, settings, first, second)

    @get(
        "/witnesses",
        summary="List the log's witnesses",
        description="The keys whose cosignatures this log accepts. Public.",
        security=_PUBLIC,
        responses=problem_responses(422),
    )
    async def witnesses(
        self,
        session: SessionDep,
        include_retired: bool = Parameter(default=False, description="Also retired ones."),
    ) -> list[WitnessRead]:
        """The witnesses."""
        return await witnessing.list_witnesses(session, include_retired=include_retired)

    @post(
        "/witnesses",
        summary="Register a witness",
        description="Accept cosignatures from a witness key (type 0x04), e.g. a partner hub's "
        "`witness_key` from its `/audit/log`. Needs `registry:admin`. Audited as "
        "`audit.witness.registered`.",
        responses=problem_responses(401, 403, 409, 422),
        status_code=HTTP_201_CREATED,
    )
    async def register(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        data: JSONBody[WitnessCreate],
    ) -> WitnessRead:
        """Register a witness."""
        return await witnessing.register_witness(session, principal, clock, data)

    @delete(
        "/witnesses/{witness_id:uuid}",
        summary="Retire a witness",
        description="Stop accepting the witness's cosignatures; those it gave stay served. "
        "Needs `registry:admin`. Audited as `audit.witness.retired`.",
        responses=problem_responses(401, 403, 404, 409),
        status_code=HTTP_200_OK,
    )
    async def retire(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        witness_id: FromPath[uuid.UUID],
    ) -> WitnessRead:
        """Retire a witness."""
        return await witnessing.retire_witness(session, principal, clock, witness_id)

    @post(
        "/checkpoints/{tree_size:int}/cosignatures",
        summary="Send cosignatures of a checkpoint",
        description="The body is `text/plain`: one C2SP tlog-cosignature/v1 signature line "
        "per witness (`\u2014 <key name> <base64(key id || timestamp || signature)>`). No "
        "OAuth token: the signature is the credential. Each line must be from an active "
        "registered witness (else 403), verify over this checkpoint and not be dated in the "
        "future (else 422). A witness's first cosignature of a size is kept (`new` false "
        "for a repeat). Not an audit event: cosignatures are served with the checkpoint.",
        security=_PUBLIC,
        responses=problem_responses(403, 404, 422),
        status_code=HTTP_200_OK,
        operation_class=_CosignatureUpload,
    )
    async def cosign(
        self,
        session: SessionDep,
        clock: ClockDep,
        tree_size: FromPath[int],
        body: RawBody,
    ) -> list[CosignatureAccepted]:
        """Store cosignatures."""
        try:
            lines = body.decode()
        except UnicodeDecodeError:
            lines = ""
        return await witnessing.accept_cosignatures(session, clock, tree_size, lines)
