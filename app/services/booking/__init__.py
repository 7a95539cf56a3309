"""Booking: free slots, one path to book, the appointment workflow, rescheduling and cancelling.

Every entry point (back office, public site, REST API, chat, generic screens) calls these
functions, through this package (``from app.services import booking; booking.book_appointment(...)``).
Two bookings can never hold one doctor's time: bookings of a doctor are serialised by an advisory
lock per doctor (PostgreSQL) or the database write lock (SQLite), checked again inside that lock,
and on PostgreSQL an exclusion constraint makes overlapping active appointments impossible
whatever the code does.

- ``availability``: free slots of a doctor, the "any doctor" search;
- ``book``: ``book_appointment``, the one way to book;
- ``statement``: the SQL that writes a booking (one round trip on PostgreSQL);
- ``checks``: why a time cannot be booked (policy, working hours, what is in the way);
- ``clashes``: what stands in the way of a visit, and the lock serialising a doctor's bookings;
- ``workflow``: statuses, legal steps, queue numbers, moving and cancelling;
- ``hooks``: the validators of the generic screens and REST resources;
- ``repeat_rules``: the repeat rule of a series;
- ``lookups``: the doctor and service, an appointment, the clinic's wall clock.
"""
from app.services.booking.availability import (
    MAX_RANGE_DAYS,
    Slot,
    cached_free_slots,
    check_range,
    first_available,
    free_slots,
)
from app.services.booking.book import Booking, book_appointment
from app.services.booking.checks import check_hours, check_slot, check_time
from app.services.booking.clashes import BOOKING_LOCK, LONGEST_VISIT, lock_for_booking, refuse_clash
from app.services.booking.hooks import (
    announce_appointment_changes,
    validate_appointment,
    validate_appointment_series,
)
from app.services.booking.lookups import doctor_and_service, load_appointment, to_local, to_utc
from app.services.booking.repeat_rules import MAX_OCCURRENCES, check_repeat_rule
from app.services.booking.statement import BOOK_IN_ONE_STATEMENT
from app.services.booking.workflow import (
    CANCELLABLE_STATUSES,
    INITIAL_STATUSES,
    MOVABLE_STATUSES,
    TRANSITIONS,
    apply_transition,
    can_cancel,
    can_move,
    check_patient_cutoff,
    next_queue_number,
    next_statuses,
    record_event,
    reschedule_appointment,
    transition_appointment,
)

# The names these had when booking was one module.
_doctor_and_service = doctor_and_service
_BOOK_IN_ONE_STATEMENT = BOOK_IN_ONE_STATEMENT

__all__ = [
    "BOOKING_LOCK", "BOOK_IN_ONE_STATEMENT", "CANCELLABLE_STATUSES", "INITIAL_STATUSES", "LONGEST_VISIT",
    "MAX_OCCURRENCES", "MAX_RANGE_DAYS", "MOVABLE_STATUSES", "TRANSITIONS", "Booking", "Slot",
    "announce_appointment_changes", "apply_transition",
    "book_appointment", "cached_free_slots", "can_cancel", "can_move", "check_hours", "check_patient_cutoff",
    "check_range",
    "check_repeat_rule", "check_slot", "check_time", "doctor_and_service", "first_available", "free_slots",
    "load_appointment", "lock_for_booking", "next_queue_number", "next_statuses", "record_event", "refuse_clash",
    "reschedule_appointment", "to_local", "to_utc", "transition_appointment", "validate_appointment",
    "validate_appointment_series",
]
