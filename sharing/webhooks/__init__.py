"""Signed, retried webhooks that tell other software what happened (an outbox in the database)."""
