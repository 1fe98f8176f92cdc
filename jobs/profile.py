"""spark-submit entry point for the profile stage; all logic is in the vista package.

    spark-submit jobs/profile.py --conf conf/cluster.yaml [--as-of YYYY-MM-DD] [--full]
"""

import sys

from vista.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "profile", *sys.argv[1:]]))
