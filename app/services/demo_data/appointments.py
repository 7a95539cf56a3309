"""Demo appointments step: fill the doctors' sessions, going back in time until every department
has seen what its patients need, plus four weeks of bookings to come; nobody is in two places at
once, nor seen before birth."""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

from app.services.demo_data.catalogue import Catalogue
from app.services.demo_data.clinic import DEPARTMENTS, SERVICE_AGES, VISIT_DEPARTMENTS
from app.services.demo_data.core import (
    CHUNK,
    FUTURE_DAYS,
    MIN_HISTORY_DAYS,
    PAST_VISITS_PER_PATIENT,
    TODAY_TARGET,
    Appt,
    Weighted,
)


class Appointments(Catalogue):
    """Plans every appointment (``self.appts``, in time order, ids given)."""

    def pack_day(self, d: int, day: date, out: list) -> None:
        """Candidate appointments of doctor ``d`` on ``day``, back to back with small gaps."""
        rng = self.rng
        weights = self.doctor_service_weights[d]
        info = self.service_info
        for s, e in self.day_sessions(d, day):
            cursor = s
            while True:
                sid = weights.pick(rng)
                end = cursor + info[sid - 1][4]
                if end > e:
                    break
                out.append((d, sid, day, cursor, end))
                r = rng.random()
                cursor = end + (0 if r < 0.55 else 5 if r < 0.8 else 10 if r < 0.93 else 15)


    # ---- appointments ----------------------------------------------------------------------

    def build_appointments(self) -> None:
        rng, today = self.rng, self.today
        dept_groups = {code: groups for code, _n, _s, groups, _d in DEPARTMENTS}
        dept_doctors = defaultdict(list)
        for d, dept in enumerate(self.doctor_dept):
            dept_doctors[dept].append(d)
        # What the patients need: visits per department and patient group.
        visits = Weighted(PAST_VISITS_PER_PATIENT)
        wanted: dict[str, dict[str, list[int]]] = {dept: {"c": [], "f": [], "m": []} for dept in dept_groups}
        visit_dept = {g: Weighted(w) for g, w in VISIT_DEPARTMENTS.items()}
        for p in self.patients:
            for _ in range(visits.pick(rng)):
                wanted[visit_dept[p.group].pick(rng)][p.group].append(p.id)
        demand = {dept: sum(len(v) for v in groups.values()) for dept, groups in wanted.items()}
        # Candidate slots, going back day by day until every department has room for its demand.
        past_slots: dict[str, list] = {dept: [] for dept in dept_groups}
        need = {dept: math.ceil(n * 1.15) + 5 if n else 0 for dept, n in demand.items()}
        day = today - timedelta(days=1)
        days = 0
        while True:
            for d, dept in enumerate(self.doctor_dept):
                self.pack_day(d, day, past_slots[dept])
            days += 1
            if days >= MIN_HISTORY_DAYS and all(len(past_slots[k]) >= need[k] for k in need):
                break
            if days > 366 * 30:
                break
            day -= timedelta(days=1)
        self.history_start = day
        future_slots: dict[str, list] = {dept: [] for dept in dept_groups}
        today_slots: list = []  # today is filled apart: the front desk's busy day (front_desk_day.py)
        for d in range(len(self.doctor_dept)):
            self.pack_day(d, today, today_slots)
        for offset in range(1, FUTURE_DAYS):
            day = today + timedelta(days=offset)
            for d, dept in enumerate(self.doctor_dept):
                self.pack_day(d, day, future_slots[dept])
        # Fill the slots. A patient is never in two places at once, nor seen before birth.
        busy: dict[int, list[tuple[date, int, int]]] = defaultdict(list)
        patients = self.patients
        service_groups = [info[6] for info in self.service_info]
        appts: list[Appt] = []
        past_status = Weighted([("completed", 84), ("cancelled", 10), ("no_show", 6)])

        service_ages = [SERVICE_AGES.get(info[0], (0, 200)) for info in self.service_info]

        def free(pid: int, sid: int, day: date, s: int, e: int) -> bool:
            dob = patients[pid - 1].dob
            if (day - dob).days < 7:  # not seen before birth, nor in the first week
                return False
            lo, hi = service_ages[sid - 1]
            if not lo <= (day - dob).days // 365 <= hi:
                return False
            for bday, bs, be in busy.get(pid, ()):
                if bday == day and bs < e and s < be:
                    return False
            return True

        for dept, slots in past_slots.items():
            queues = wanted[dept]
            left = demand[dept]
            if not left:
                continue
            rng.shuffle(slots)
            for d, sid, day, s, e in slots:
                groups = [g for g in service_groups[sid - 1] if queues[g]]
                if not groups:
                    continue
                total = sum(len(queues[g]) for g in groups)
                r = rng.random() * total
                for g in groups:
                    r -= len(queues[g])
                    if r < 0:
                        break
                queue = queues[g]
                for _attempt in range(4):
                    j = int(rng.random() * len(queue))
                    pid = queue[j]
                    if free(pid, sid, day, s, e):
                        queue[j] = queue[-1]
                        queue.pop()
                        busy[pid].append((day, s, e))
                        appts.append(Appt(pid, d, sid, day, s, e, past_status.pick(rng)))
                        left -= 1
                        break
                if not left:
                    break
        for dept, slots in future_slots.items():
            target = min(int(len(slots) * 0.5), max(2 * len(dept_doctors[dept]), round(demand[dept] * 0.08)))
            if not target or not self.patients:
                continue
            rng.shuffle(slots)
            for d, sid, day, s, e in slots:
                groups = [g for g in service_groups[sid - 1] if g in dept_groups[dept] and self.by_group[g]]
                if not groups:
                    continue
                g = groups[int(rng.random() * len(groups))]
                pool = self.by_group[g]
                for _attempt in range(4):
                    pid = pool[int(rng.random() * len(pool))]
                    if free(pid, sid, day, s, e):
                        busy[pid].append((day, s, e))
                        status = "confirmed" if rng.random() < 0.6 else "requested"
                        appts.append(Appt(pid, d, sid, day, s, e, status))
                        target -= 1
                        break
                if not target:
                    break
        # Today: about TODAY_TARGET bookings spread over the doctors at work, most of them confirmed.
        target = min(TODAY_TARGET, int(len(today_slots) * 0.7))
        rng.shuffle(today_slots)
        for d, sid, day, s, e in today_slots:
            if target <= 0:
                break
            groups = [g for g in service_groups[sid - 1] if g in dept_groups[self.doctor_dept[d]] and self.by_group[g]]
            if not groups:
                continue
            pool = self.by_group[groups[int(rng.random() * len(groups))]]
            for _attempt in range(6):
                pid = pool[int(rng.random() * len(pool))]
                if free(pid, sid, day, s, e) and not any(bday == day for bday, _s, _e in busy.get(pid, ())):
                    busy[pid].append((day, s, e))
                    appts.append(Appt(pid, d, sid, day, s, e, "confirmed" if rng.random() < 0.85 else "requested"))
                    target -= 1
                    break
        # Chronological ids.
        utc = self.utc
        for a in appts:
            a.start = utc(a.day, a.start_min)
            a.end = utc(a.day, a.end_min)
            a.chunk = (a.patient - 1) // CHUNK
        appts.sort(key=lambda a: (a.start, a.doctor))
        for i, a in enumerate(appts, start=1):
            a.id = i
        self.appts = appts

