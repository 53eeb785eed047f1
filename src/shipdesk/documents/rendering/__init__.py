"""Pure document renderers: typed data in (``data.py``), PDF/XLSX bytes out.

No database, no settings: every renderer takes frozen dataclasses and a file-like object
or returns bytes. Layout boxes are recorded as data (``layout.LayoutRecorder``) so tests
can check that nothing is drawn outside the page and that blocks do not overlap.
"""
