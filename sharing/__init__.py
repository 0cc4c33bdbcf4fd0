"""The interagency CCTV sharing hub: consent registry, access broker, tokens and audit trail."""

__version__ = "0.1.0"
