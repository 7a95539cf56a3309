"""Demo data: a Vietnamese clinic with its doctors, patients, visits, prescriptions, bills and stock.

``seed_demo_data`` fills an EMPTY database in one transaction. It is deterministic for a given
``seed`` (and ``today``), makes no login users or roles, and never touches Flask globals.

It is built for size: 100,000 patients in well under two minutes. Faker (``vi_VN``) only fills
small pools (addresses) and its name lists seed the name pools; every row is then drawn from
those pools with one seeded ``random.Random``. All primary keys are assigned here (the database
is empty, so ids start at 1), which lets children point at parents without round trips, and rows
go in with Core ``executemany`` inserts, 5,000 at a time.

Consistency kept on purpose (a user of the demo would notice otherwise):
- appointments sit inside the doctor's weekly hours in the clinic's time zone, never on the
  doctor's leave, training or Vietnam's public holidays; no doctor and no patient has two
  appointments at the same time; nobody is seen before being born;
- an encounter (with ICD-10 diagnoses and plausible vitals) for every completed visit, an
  invoice whose lines add up and whose payments match its status;
- the stock ledger: every batch's quantity is the sum of its movements (receipts, dispensing of
  the prescriptions, FIFO by expiry, and expiry write-offs); a few batches expire within 30 days
  and a few medicines are below their reorder level.

The reference tables: ``clinic`` (departments, services, doctors, staff, hours), ``medicines``,
``lab_tests``, ``diagnoses``, ``population`` (names, phones, habits), ``closed_days`` (public
holidays). The seeder's steps, each extending the one before: ``core`` (settings, money, bulk
inserts), ``people``, ``catalogue``, ``appointments``, ``visits``, ``stock``, and ``seeder``
(``seed_demo_data``).
"""
from app.services.demo_data.seeder import seed_demo_data

__all__ = ["seed_demo_data"]
