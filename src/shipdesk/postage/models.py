"""The postage domain's tables."""
