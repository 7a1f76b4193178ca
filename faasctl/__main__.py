from faasctl.cli.main import entry

entry()
