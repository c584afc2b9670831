"""An example shop service protected by the Rampart SDK (see examples/shop/app.py)."""
