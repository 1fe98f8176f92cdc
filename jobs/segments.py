"""spark-submit entry point for the segments stage; all logic is in the vista package.

    spark-submit jobs/segments.py --conf conf/cluster.yaml
"""

import sys

from vista.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "segments", *sys.argv[1:]]))
