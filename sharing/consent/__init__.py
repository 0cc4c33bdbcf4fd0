"""The consent domain."""
