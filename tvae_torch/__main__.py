"""`python -m tvae_torch` is the `tvae` command."""

import sys

from tvae_torch.cli import main

sys.exit(main())
