"""spark-submit entry point for the ingest stage; all logic is in the vista package.

    spark-submit jobs/ingest.py --conf conf/cluster.yaml [--full]
"""

import sys

from vista.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "ingest", *sys.argv[1:]]))
