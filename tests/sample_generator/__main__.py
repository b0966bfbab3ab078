"""`python -m tests.sample_generator [--out PATH] [--seed N] [--count N]`."""

from tests.sample_generator.generate import main

raise SystemExit(main())
