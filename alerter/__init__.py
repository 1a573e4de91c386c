"""alerter: policy-news alerts for UK metals trade associations."""

__version__ = "0.1.0"
