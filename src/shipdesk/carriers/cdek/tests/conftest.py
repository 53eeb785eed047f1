from shipdesk.carriers.tests.conftest import _fresh_limits  # noqa: F401 (the autouse fixture)
