"""The oauth domain."""
