from tests.support.sendgrid_fixtures import clock, sendgrid, sg_settings

__all__ = ["clock", "sendgrid", "sg_settings"]
