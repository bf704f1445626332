"""The ready-to-run specs, also installed as package data so that ``registry init`` can write them."""
