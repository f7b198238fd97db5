"""`python -m bot` is `wxshop`."""

import sys

from bot.cli import main

sys.exit(main())
