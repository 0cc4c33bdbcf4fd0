"""The hub's closed vocabularies. Rules and reports rely on these words; free text goes
into a justification field beside them."""

from __future__ import annotations

from enum import StrEnum


class PartyKind(StrEnum):
    """What sort of organization or person a party is."""

    GOVERNMENT = "government"
    POLICE = "police"
    EMERGENCY = "emergency"
    BUSINESS = "business"
    RESIDENT = "resident"
    COMMAND_CENTER = "command_center"


class Role(StrEnum):
    """A member's role inside their party."""

    ADMIN = "admin"
    OPERATOR = "operator"
    OFFICER = "officer"
    OWNER = "owner"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"


class Mode(StrEnum):
    """How video is accessed."""

    LIVE = "live"
    FOOTAGE = "footage"


class Purpose(StrEnum):
    """Why video is accessed. Labels are in ``PURPOSE_LABELS``."""

    TRAFFIC_MANAGEMENT = "traffic_management"
    PUBLIC_ORDER = "public_order"
    CRIMINAL_INVESTIGATION = "criminal_investigation"
    EMERGENCY_RESPONSE = "emergency_response"
    DISASTER_RESPONSE = "disaster_response"
    PUBLIC_INFORMATION = "public_information"


PURPOSE_LABELS: dict[Purpose, tuple[str, str]] = {
    Purpose.TRAFFIC_MANAGEMENT: ("Manajemen lalu lintas", "Traffic management"),
    Purpose.PUBLIC_ORDER: ("Ketertiban umum", "Public order"),
    Purpose.CRIMINAL_INVESTIGATION: ("Penyidikan tindak pidana", "Criminal investigation"),
    Purpose.EMERGENCY_RESPONSE: ("Tanggap darurat", "Emergency response"),
    Purpose.DISASTER_RESPONSE: ("Penanggulangan bencana", "Disaster response"),
    Purpose.PUBLIC_INFORMATION: ("Informasi publik", "Public information"),
}


class Visibility(StrEnum):
    """Who may find the camera: owner and consented parties (private, partners) or all (public)."""

    PRIVATE = "private"
    PARTNERS = "partners"
    PUBLIC = "public"


class AgreementKind(StrEnum):
    """The legal instrument's kind."""

    REGULATION = "regulation"
    MOU = "mou"
    COOPERATION_AGREEMENT = "cooperation_agreement"


class AgreementStatus(StrEnum):
    """Where an agreement is in its life."""

    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    EXPIRED = "expired"


class Scope(StrEnum):
    """OAuth scopes that gate the API."""

    REGISTRY_READ = "registry:read"
    REGISTRY_WRITE = "registry:write"
    REGISTRY_ADMIN = "registry:admin"
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    ACCESS_REQUEST = "access:request"
    AUDIT_READ = "audit:read"
    FEDERATION_PEER = "federation:peer"  # a peer hub: reads the catalog shared with it
