"""Tests of the flask command line (riskmgr/app/cli): one module per area, as the package."""
