"""Demo catalogue step: departments, specialties, services, doctors (with the services they offer),
staff, weekly hours, leave and training, public holidays, medicines; and each doctor's free
sessions of a day."""
from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from app.models import (
    Department,
    Doctor,
    Employee,
    Medicine,
    ScheduleException,
    Service,
    Specialty,
    WorkSchedule,
    doctor_service,
)
from app.services.demo_data.clinic import (
    DEPARTMENTS,
    DOCTORS,
    EMPLOYEES,
    EXTRA_SPECIALTIES,
    GENERAL_CONSULTATION,
    SATURDAY_DOCTORS,
    SATURDAY_SESSIONS,
    SERVICES,
    VIDEO_SERVICES,
    WEEKDAY_SESSIONS,
)
from app.services.demo_data.core import FUTURE_DAYS, Weighted, merge_unique, minutes_of
from app.services.demo_data.medicines import MEDICINES
from app.services.demo_data.people import People
from app.services.text import fold


class Catalogue(People):
    """Builds and writes the clinic's catalogue and the doctors' hours."""

    # ---- catalogue: departments, services, doctors, staff, hours, medicines ------------------

    def build_catalogue(self) -> None:
        rng = self.rng
        now = self.now
        self.departments = []
        self.dept_id = {}
        for i, (code, name, _specialty, _groups, description) in enumerate(DEPARTMENTS, start=1):
            self.dept_id[code] = i
            self.departments.append(dict(id=i, code=code, name=name, description=description, active=True))
        specialty_names = merge_unique([d[2] for d in DEPARTMENTS], [s for s, _ in EXTRA_SPECIALTIES])
        extra = dict(EXTRA_SPECIALTIES)
        self.specialty_id = {name: i for i, name in enumerate(specialty_names, start=1)}
        self.specialties = [
            dict(id=i, name=name, description=extra.get(name) or next(
                (f"Chuyên khoa {d[1].lower()}." for d in DEPARTMENTS if d[2] == name), None))
            for name, i in self.specialty_id.items()
        ]
        # Services
        self.services = []
        self.service_code = {}
        self.service_info = []  # index = id - 1: (code, name, dept, price, minutes, weight, groups)
        for i, (code, name, dept, price, minutes, weight, groups, description) in enumerate(SERVICES, start=1):
            self.service_code[code] = i
            self.service_info.append((code, name, dept, price, minutes, weight, groups))
            self.services.append(dict(
                id=i, code=code, name=name, description=description, department_id=self.dept_id[dept],
                price=self.money(price), duration_minutes=minutes, active=True, created_at=now, updated_at=now,
                visit_modes="both" if code in VIDEO_SERVICES else "in_person"))
        # Doctors
        self.doctors = []
        self.doctor_dept = []  # index = id - 1
        self.doctor_service_weights: list[Weighted] = []
        self.doctor_services = []
        used_names = set()
        for i, (dept, specialty, title, sex, years, fee, languages, hospital) in enumerate(DOCTORS, start=1):
            birth_year = self.today.year - 26 - years
            while True:
                full_name, last, given = self.person_name(sex, birth_year)
                if full_name not in used_names:
                    used_names.add(full_name)
                    break
            slug = fold(f"{given}.{last}").replace(" ", "")
            bio = (f"{title} {full_name} có {years} năm kinh nghiệm trong lĩnh vực {specialty.lower()}, "
                   f"từng công tác tại {hospital}. Tốt nghiệp Đại học Y Dược TP.HCM.")
            self.doctors.append(dict(
                id=i, user_id=None, full_name=full_name, title=title, specialty_id=self.specialty_id[specialty],
                department_id=self.dept_id[dept], bio=bio, photo=None, consultation_fee=self.money(fee),
                years_of_experience=years, languages=languages, phone=self.phone(),
                email=f"bs.{slug}@example.com", active=True, calendar_token=None, created_at=now, updated_at=now))
            self.doctor_dept.append(dept)
            offered = [sid for sid, info in enumerate(self.service_info, start=1) if info[2] == dept]
            general = self.service_code[GENERAL_CONSULTATION]
            if general not in offered:
                offered.append(general)
            self.doctor_services.append(offered)
            weights: list[tuple[int, float]] = []
            for sid in offered:
                info = self.service_info[sid - 1]
                share = info[5] if info[2] == dept else 0.6  # general consultation outside internal medicine
                weights.append((sid, share))
            self.doctor_service_weights.append(Weighted(weights))
        self.doctor_service_rows = [dict(doctor_id=d, service_id=s)
                                    for d, offered in enumerate(self.doctor_services, start=1) for s in offered]
        # Staff
        self.employees = []
        for i, (position, staff_dept, sex) in enumerate(EMPLOYEES, start=1):
            full_name, last, given = self.person_name(sex, self.today.year - rng.randint(22, 50))
            slug = fold(f"{given}.{last}").replace(" ", "")
            self.employees.append(dict(
                id=i, user_id=None, full_name=full_name, position=position,
                department_id=self.dept_id[staff_dept] if staff_dept else None, phone=self.phone(),
                email=f"nv.{slug}{i}@example.com", active=True, created_at=now, updated_at=now))
        # Weekly hours (minutes of the day, clinic time), and the exceptions decided up front:
        # leave and training in the last 90 days and the next four weeks. Holidays come later.
        self.sessions = []  # per doctor: weekday -> list of (start, end) minutes
        for d in range(len(DOCTORS)):
            week = {wd: [(minutes_of(a), minutes_of(b)) for a, b in WEEKDAY_SESSIONS] for wd in range(5)}
            if d in SATURDAY_DOCTORS:
                week[5] = [(minutes_of(a), minutes_of(b)) for a, b in SATURDAY_SESSIONS]
            self.sessions.append(week)
        # (doctor index, kind, start date, end date, start minute | None, end minute | None, reason)
        self.exceptions: list[tuple[int, str, date, date, int | None, int | None, str]] = []
        for d in range(len(DOCTORS)):
            start = self.today - timedelta(days=rng.randint(10, 90))
            self.exceptions.append((d, "leave", start, start + timedelta(days=rng.randint(0, 2)), None, None,
                                    "Nghỉ phép năm"))
        for d in rng.sample(range(len(DOCTORS)), 3):
            start = self.today + timedelta(days=rng.randint(3, FUTURE_DAYS - 4))
            self.exceptions.append((d, "leave", start, start + timedelta(days=rng.randint(0, 1)), None, None,
                                    rng.choice(("Nghỉ phép năm", "Việc gia đình"))))
        for d in rng.sample(range(len(DOCTORS)), 3):
            day = self.today + timedelta(days=rng.randint(1, FUTURE_DAYS - 1))
            self.exceptions.append((d, "training", day, day, 13 * 60 + 30, 17 * 60,
                                    "Hội thảo cập nhật kiến thức y khoa liên tục (CME)"))
        for d in rng.sample(range(len(DOCTORS)), 2):
            day = self.today - timedelta(days=rng.randint(5, 60))
            self.exceptions.append((d, "training", day, day, 7 * 60 + 30, 11 * 60 + 30,
                                    "Tập huấn chuyên môn tại Sở Y tế"))
        self.blocked: dict[tuple[int, date], list[tuple[int, int]] | None] = {}
        for d, _kind, start, end, t0, t1, _reason in self.exceptions:
            day = start
            while day <= end:
                if t0 is None or t1 is None:
                    self.blocked[(d, day)] = None  # the whole day
                else:
                    blocks = self.blocked.setdefault((d, day), [])
                    if blocks is not None:  # None: the whole day is off anyway
                        blocks.append((t0, t1))
                day += timedelta(days=1)

    def day_sessions(self, d: int, day: date) -> list[tuple[int, int]]:
        week = self.sessions[d].get(day.weekday())
        if not week or self.holidays.name(day):
            return []
        key = (d, day)
        if key not in self.blocked:
            return week
        blocks = self.blocked[key]
        if blocks is None:
            return []
        free = []
        for s, e in week:
            pieces = [(s, e)]
            for b0, b1 in blocks:
                pieces = [p for ps, pe in pieces
                          for p in ((ps, min(pe, b0)), (max(ps, b1), pe)) if p[1] - p[0] >= 15]
            free.extend(pieces)
        return free


    # ---- writing ---------------------------------------------------------------------------

    def write_catalogue(self) -> None:
        now = self.now
        self.insert(Department.__table__, self.departments)
        self.insert(Specialty.__table__, self.specialties)
        self.insert(Service.__table__, self.services)
        self.insert(Doctor.__table__, self.doctors)
        self.insert(doctor_service, self.doctor_service_rows)
        self.insert(Employee.__table__, self.employees)
        valid_from = self.history_start - timedelta(days=30)
        schedules: list[dict[str, Any]] = []
        for d, week in enumerate(self.sessions):
            for weekday in sorted(week):
                for s, e in week[weekday]:
                    schedules.append(dict(id=len(schedules) + 1, doctor_id=d + 1, weekday=weekday,
                                          start_time=time(s // 60, s % 60), end_time=time(e // 60, e % 60),
                                          valid_from=valid_from, valid_to=None))
        self.insert(WorkSchedule.__table__, schedules)
        # Exceptions: the ones decided up front, and the public holidays of the whole period.
        exceptions = list(self.exceptions)
        day = self.history_start
        end = self.today + timedelta(days=FUTURE_DAYS)
        holidays: list[tuple[date, date, str]] = []  # runs of days with the same holiday
        while day <= end:
            holiday = self.holidays.name(day)
            if holiday and holidays and holidays[-1][1] == day - timedelta(days=1) and holidays[-1][2] == holiday:
                holidays[-1] = (holidays[-1][0], day, holiday)
            elif holiday:
                holidays.append((day, day, holiday))
            day += timedelta(days=1)
        for first, last, holiday in holidays:
            for d in range(len(DOCTORS)):
                exceptions.append((d, "holiday", first, last, None, None, holiday))
        exceptions.sort(key=lambda x: (x[2], x[0]))
        self.insert(ScheduleException.__table__, [
            dict(id=i, doctor_id=d + 1, kind=kind, start_date=start, end_date=stop,
                 start_time=time(t0 // 60, t0 % 60) if t0 is not None else None,
                 end_time=time(t1 // 60, t1 % 60) if t1 is not None else None, reason=reason)
            for i, (d, kind, start, stop, t0, t1, reason) in enumerate(exceptions, start=1)])
        medicines = []
        for i, med in enumerate(MEDICINES, start=1):
            medicines.append(dict(
                id=i, code=med.code, name=med.name, active_ingredient=med.ingredient, strength=med.strength,
                dosage_form=med.form, unit=med.unit, price=self.money(med.price),
                reorder_level=0, active=True, created_at=now, updated_at=now))  # set once stock is known
        self.insert(Medicine.__table__, medicines)

