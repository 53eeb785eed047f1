"""The claims domain's tables."""
