"""Tests of the consent domain: policy templates, decisions, agreements and consents."""
