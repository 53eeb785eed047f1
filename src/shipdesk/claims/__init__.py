"""Claims: lost, stuck, damaged and unpaid parcels found, filed and followed to their deadlines."""
