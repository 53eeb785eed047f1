"""Prepaid balance, online postage marks and registered letters."""
