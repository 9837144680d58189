from stx.cli import main

raise SystemExit(main())
