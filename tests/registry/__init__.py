"""Tests of the registry: parties, members, OAuth clients and cameras, over HTTP."""
