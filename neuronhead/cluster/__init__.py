"""How to reach Ray (``connect``), size its actor pools (``sizing``) and check shared storage."""
