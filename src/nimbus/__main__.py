from nimbus.cli.main import main

raise SystemExit(main())
