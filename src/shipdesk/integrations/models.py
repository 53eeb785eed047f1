"""The integrations domain's tables."""
