"""meshctl: the command-line interface of meshd (installed as the `meshctl` package)."""
