from meshctl.main import cli

cli()
