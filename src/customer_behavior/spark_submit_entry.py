"""The application file for spark-submit: `spark-submit [options] <this file> run [args]`.

Find its path with `python -c "import customer_behavior.spark_submit_entry as e; print(e.__file__)"`.
The arguments after the file are the CLI's (`run`, `generate`, ...). spark-submit has
already started the JVM, so its --master/--conf decide the session; the CLI's --conf
settings still apply to what is not fixed at JVM start.
"""

import os
import sys

if __name__ == "__main__":
    # A script's own directory goes first on sys.path; ours would expose the package's
    # modules (config, session, ...) as top-level names, so take it off again.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _here]

    from customer_behavior.cli import main

    raise SystemExit(main())
