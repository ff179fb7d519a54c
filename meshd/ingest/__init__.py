"""Reading providers' local logs incrementally into this device's log."""
