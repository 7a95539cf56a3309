"""The booking assistant in the patient's chat (the realtime issue, item 7): rule-based, no
external service. ``understanding`` reads a message (intent and slots, Vietnamese with or
without diacritics, and English); ``catalogue`` knows the clinic's names; ``replies`` answers
and carries out the buttons through the booking services, with the patient's own rights.
The chat reaches it through ``app.services.assistant_hook``."""
from app.services.assistant.replies import act, reply
from app.services.assistant.understanding import Intent, understand

__all__ = ["Intent", "act", "reply", "understand"]
