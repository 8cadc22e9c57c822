"""Domains of the asset graph: one folder per domain, and each folder is an asset group."""
