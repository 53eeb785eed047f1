"""Shop platforms: orders in from InSales, 1C-Bitrix (sale), Shop-Script, amoCRM and the
generic signed order webhook; tracking numbers and statuses written back where the
platform's API allows. One module per platform (verify, parse, fetch, write back), one
intake service (``intake.py``) that turns an order into a shipment through the shipments
intake — and so through the organization's automation rules. See doc.md."""
