"""MoySklad and the shop platforms: orders in, statuses and accounting operations back."""
