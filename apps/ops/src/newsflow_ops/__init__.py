"""Newsflow operator tools: status, the completeness ledger and check, dead letters, topics."""
