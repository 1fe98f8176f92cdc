"""spark-submit entry point for the profile stage; all logic is in the vista package.

Not `profile.py`: spark-submit puts this folder first on `sys.path`, and a `profile.py`
there shadows the standard library's `profile` (pyspark imports `cProfile`), so every job
in `jobs/` died at import.

    spark-submit jobs/customer_profile.py --conf conf/cluster.yaml [--as-of YYYY-MM-DD] [--full]
"""

import sys

from vista.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "profile", *sys.argv[1:]]))
