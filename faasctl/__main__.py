from faasctl.cli.main import main

raise SystemExit(main())
