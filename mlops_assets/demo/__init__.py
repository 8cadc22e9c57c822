"""`make demo` (`python -m mlops_assets.demo`): the plant floor (`edge`), the platform's runs
(`platform`) and the scoring summary (`scoring`)."""
