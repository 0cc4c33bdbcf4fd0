"""The cameras domain."""
