from customer_behavior.cli import main

raise SystemExit(main())
