"""Newsflow analyst side: the query command line and the read-only HTTP API."""
