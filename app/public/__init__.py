"""The public site (/clinic): services, doctors, online booking, sign-up and the patient portal."""
from app.public.views import bp

__all__ = ["bp"]
