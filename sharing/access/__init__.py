"""The access domain."""
