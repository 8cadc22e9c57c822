"""Shared file helpers: durable writes (`fsutil`) and the landing file format (`landing_format`)."""
