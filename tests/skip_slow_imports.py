"""A pytest plugin run.py loads first (`-p tests.skip_slow_imports`), before nbval imports nbformat.

nbformat validates notebooks with jsonschema, whose format checkers import rfc3987_syntax if it is installed (it
comes with jupyter_events' `jsonschema[format-nongpl]`). That module builds 38 Earley parsers as it is imported:
1.1 s of CPU in the controller and in each xdist worker, for the `iri` formats no notebook schema uses
(python-jsonschema/jsonschema#1428). Marked missing here, jsonschema leaves those two formats unchecked.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
