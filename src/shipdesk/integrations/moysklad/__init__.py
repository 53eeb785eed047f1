"""MoySklad: customer orders in a chosen state become registered shipments; numbers,
statuses and the money flow back (JSON API 1.2 client, emulator, services)."""
