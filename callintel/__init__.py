"""callintel: sales-call intelligence for car makers and dealers."""

__version__ = "0.1.0"
