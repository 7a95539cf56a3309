"""Clinic records as HL7 FHIR R4 resources (plain dicts), each checked against the resource's
model before it leaves (``validated``).

Why the R4B models: fhir.resources 8.x builds R5 models by default, and an R5 model refuses R4
content (an R4 ``Encounter.class`` is one Coding, R5's a list of CodeableConcepts; R4's
``MedicationRequest.medicationCodeableConcept`` is R5's ``medication.concept``). The package ships
no plain R4 models; R4B (4.3) keeps R4's structure for every resource served here, so content that
validates as R4B is what an R4 client reads."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from fhir.resources.R4B import get_fhir_model_class

from app.models import (
    Appointment,
    Department,
    Diagnosis,
    Doctor,
    Encounter,
    Invoice,
    LabResult,
    Patient,
    PrescriptionItem,
)
from app.services.settings import ClinicSettings

# Identifier systems of the clinic's own keys (no national URI exists for them).
PATIENT_CODE_SYSTEM = "urn:clinic:patient-code"
NATIONAL_ID_SYSTEM = "urn:clinic:national-id"  # Vietnam's citizen identity card number (CCCD)
INSURANCE_SYSTEM = "urn:clinic:insurance-number"  # Vietnam's health insurance card number (BHYT)
INVOICE_NUMBER_SYSTEM = "urn:clinic:invoice-number"
LAB_CODE_SYSTEM = "urn:clinic:lab-test"  # the clinic's lab catalogue codes (it records no LOINC code)
LAB_ANALYTE_SYSTEM = "urn:clinic:lab-analyte"
MEDICINE_SYSTEM = "urn:clinic:medicine"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLINIC_ORGANIZATION = "clinic"

GENDERS = {"male": "male", "female": "female", "other": "other"}
APPOINTMENT_STATUS = {"requested": "pending", "confirmed": "booked", "checked_in": "checked-in",
                      "in_consultation": "arrived", "completed": "fulfilled", "cancelled": "cancelled",
                      "no_show": "noshow"}
INVOICE_STATUS = {"draft": "draft", "issued": "issued", "partially_paid": "issued", "paid": "balanced",
                  "void": "cancelled", "refunded": "cancelled"}
PRESCRIPTION_STATUS = {"draft": "draft", "issued": "active", "partially_dispensed": "active",
                       "dispensed": "completed", "cancelled": "cancelled"}
LAB_STATUS = {"preliminary": "preliminary", "final": "final", "corrected": "corrected"}


def encounter_status(encounter: Encounter) -> str:
    if encounter.discarded_at is not None:
        return "entered-in-error"
    return "finished" if encounter.signed_at is not None else "in-progress"


def _instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decimal(value: Decimal | int | float) -> float | int:
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _drop_empty(data: Any) -> Any:
    """FHIR has no nulls and no empty arrays or objects."""
    if isinstance(data, dict):
        cleaned = {k: _drop_empty(v) for k, v in data.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", [], {})}
    if isinstance(data, list):
        return [item for item in (_drop_empty(v) for v in data) if item not in (None, "", [], {})]
    return data


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` without empty elements, after its FHIR R4B model has accepted it
    (a ``pydantic.ValidationError`` otherwise: a bug of the mapping, never the client's)."""
    resource = _drop_empty(resource)
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def ref(kind: str, key: Any, display: str | None = None) -> dict[str, Any]:
    return {"reference": f"{kind}/{key}", "display": display}


# --- people and places ----------------------------------------------------------------------------

def patient_resource(patient: Patient) -> dict[str, Any]:
    identifiers = [{"use": "usual", "system": PATIENT_CODE_SYSTEM, "value": patient.code}]
    if patient.national_id:
        identifiers.append({"use": "official", "system": NATIONAL_ID_SYSTEM, "value": patient.national_id})
    if patient.insurance_number:
        identifiers.append({"use": "secondary", "system": INSURANCE_SYSTEM, "value": patient.insurance_number})
    words = patient.full_name.split()
    # Vietnamese names: family name first, given names after ("Nguyễn Văn An").
    name = {"use": "official", "text": patient.full_name, "family": words[0] if words else None,
            "given": words[1:]}
    telecom = [{"system": "phone", "value": patient.phone}] if patient.phone else []
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    return validated({
        "resourceType": "Patient", "id": str(patient.id),
        "meta": {"lastUpdated": _instant(patient.updated_at)},
        "identifier": identifiers, "active": True, "name": [name], "telecom": telecom,
        "gender": GENDERS.get(patient.sex or "", "unknown"), "birthDate": _day(patient.date_of_birth),
        "address": [{"text": patient.address}] if patient.address else [],
        "contact": [{"name": {"text": patient.emergency_contact_name},
                     "telecom": [{"system": "phone", "value": patient.emergency_contact_phone}]
                     if patient.emergency_contact_phone else []}] if patient.emergency_contact_name else [],
        "managingOrganization": {"reference": f"Organization/{CLINIC_ORGANIZATION}"},
    })


def practitioner_resource(doctor: Doctor) -> dict[str, Any]:
    telecom = [{"system": "phone", "value": doctor.phone}] if doctor.phone else []
    if doctor.email:
        telecom.append({"system": "email", "value": doctor.email})
    words = doctor.full_name.split()
    specialty = doctor.specialty.name if doctor.specialty is not None else None
    return validated({
        "resourceType": "Practitioner", "id": str(doctor.id), "active": doctor.active,
        "name": [{"text": doctor.full_name, "family": words[0] if words else None, "given": words[1:],
                  "prefix": [doctor.title] if doctor.title else []}],
        "telecom": telecom,
        "qualification": [{"code": {"text": specialty}}] if specialty else [],
    })


def clinic_organization(settings: ClinicSettings) -> dict[str, Any]:
    return validated({
        "resourceType": "Organization", "id": CLINIC_ORGANIZATION, "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}]}],
        "name": settings.name,
        "telecom": [{"system": "phone", "value": settings.phone}] if settings.phone else [],
        "address": [{"text": settings.address}] if settings.address else [],
    })


def department_organization(department: Department) -> dict[str, Any]:
    return validated({
        "resourceType": "Organization", "id": str(department.id), "active": department.active,
        "identifier": [{"system": "urn:clinic:department", "value": department.code}],
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "dept", "display": "Hospital Department"}]}],
        "name": department.name, "partOf": {"reference": f"Organization/{CLINIC_ORGANIZATION}"},
    })


# --- visits -----------------------------------------------------------------------------------------

def appointment_resource(appointment: Appointment) -> dict[str, Any]:
    status = APPOINTMENT_STATUS.get(appointment.status, "pending")
    participant_status = "declined" if status == "cancelled" else "accepted"
    return validated({
        "resourceType": "Appointment", "id": str(appointment.id), "status": status,
        "cancelationReason": {"text": appointment.cancel_reason} if appointment.cancel_reason else None,
        "serviceType": [{"text": appointment.service.name}] if appointment.service is not None else [],
        "appointmentType": {"text": appointment.mode},
        "description": appointment.reason,
        "start": _instant(appointment.start_at), "end": _instant(appointment.end_at),
        "created": _instant(appointment.created_at),
        "comment": appointment.notes,
        "participant": [
            {"actor": ref("Patient", appointment.patient_id, appointment.patient.full_name),
             "status": participant_status},
            {"actor": ref("Practitioner", appointment.doctor_id, appointment.doctor.full_name),
             "status": participant_status},
        ],
    })


def encounter_resource(encounter: Encounter) -> dict[str, Any]:
    video = encounter.appointment is not None and encounter.appointment.mode == "video"
    klass = {"system": ACT_CODE, "code": "VR", "display": "virtual"} if video else \
        {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"}
    return validated({
        "resourceType": "Encounter", "id": str(encounter.id), "status": encounter_status(encounter),
        "class": klass,
        "subject": ref("Patient", encounter.patient_id, encounter.patient.full_name),
        "participant": [{"individual": ref("Practitioner", encounter.doctor_id, encounter.doctor.full_name)}],
        "appointment": [{"reference": f"Appointment/{encounter.appointment_id}"}] if encounter.appointment_id else [],
        "period": {"start": _instant(encounter.created_at), "end": _instant(encounter.signed_at)},
        "reasonCode": [{"text": encounter.chief_complaint}] if encounter.chief_complaint else [],
        "diagnosis": [{"condition": {"reference": f"Condition/{d.id}"}, "rank": 1 if d.is_primary else None}
                      for d in encounter.diagnoses],
        "serviceProvider": {"reference": f"Organization/{CLINIC_ORGANIZATION}"},
    })


def condition_resource(diagnosis: Diagnosis) -> dict[str, Any]:
    encounter = diagnosis.encounter
    return validated({
        "resourceType": "Condition", "id": str(diagnosis.id),
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "entered-in-error" if encounter.discarded_at is not None else "confirmed"}]},
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "encounter-diagnosis",
                                  "display": "Encounter Diagnosis"}]}],
        "code": {"coding": [{"system": ICD10_SYSTEM, "code": diagnosis.icd10_code}], "text": diagnosis.text},
        "subject": ref("Patient", encounter.patient_id, encounter.patient.full_name),
        "encounter": {"reference": f"Encounter/{encounter.id}"},
        "recordedDate": _instant(encounter.created_at),
        "recorder": ref("Practitioner", encounter.doctor_id, encounter.doctor.full_name),
        "note": [{"text": "primary"}] if diagnosis.is_primary else [],
    })


# --- observations -----------------------------------------------------------------------------------

# Vital signs from an encounter's fields: the key in the Observation's id, the LOINC code and name,
# the field, the UCUM unit (code, shown unit). Blood pressure is a panel with two components.
VITALS: dict[str, tuple[str, str, str, str, str]] = {
    "pulse": ("8867-4", "Heart rate", "pulse", "/min", "/min"),
    "temp": ("8310-5", "Body temperature", "temperature_c", "Cel", "°C"),
    "resp": ("9279-1", "Respiratory rate", "respiratory_rate", "/min", "/min"),
    "spo2": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "spo2", "%", "%"),
    "weight": ("29463-7", "Body weight", "weight_kg", "kg", "kg"),
    "height": ("8302-2", "Body height", "height_cm", "cm", "cm"),
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
BP_PARTS = (("8480-6", "Systolic blood pressure", "systolic_bp"),
            ("8462-4", "Diastolic blood pressure", "diastolic_bp"))
SPO2_ALSO = ("2708-6", "Oxygen saturation in Arterial blood")
# Every vital kind (the key in the id) and the field whose presence makes the observation exist.
VITAL_FIELDS: dict[str, str] = {"bp": "systolic_bp", **{key: v[2] for key, v in VITALS.items()}}
VITAL_CODES: dict[str, tuple[str, ...]] = {"bp": (BP_PANEL[0],), **{key: (v[0],) for key, v in VITALS.items()}}
VITAL_CODES["spo2"] = (VITALS["spo2"][0], SPO2_ALSO[0])


def _quantity(value: Any, unit: str, code: str) -> dict[str, Any]:
    return {"value": _decimal(value), "unit": unit, "system": UCUM, "code": code}


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}]


def vital_observation(encounter: Encounter, kind: str) -> dict[str, Any]:
    """One vital sign of ``encounter`` (``kind``: a key of ``VITAL_FIELDS``); id ``vs-<kind>-<encounter>``."""
    base: dict[str, Any] = {
        "resourceType": "Observation", "id": f"vs-{kind}-{encounter.id}",
        "status": "final" if encounter.signed_at is not None else "preliminary",
        "category": _category("vital-signs", "Vital Signs"),
        "subject": ref("Patient", encounter.patient_id, encounter.patient.full_name),
        "encounter": {"reference": f"Encounter/{encounter.id}"},
        "effectiveDateTime": _instant(encounter.created_at),
        "performer": [ref("Practitioner", encounter.doctor_id, encounter.doctor.full_name)],
    }
    if encounter.discarded_at is not None:
        base["status"] = "entered-in-error"
    if kind == "bp":
        base["code"] = {"coding": [{"system": LOINC, "code": BP_PANEL[0], "display": BP_PANEL[1]}],
                        "text": BP_PANEL[1]}
        base["component"] = [
            {"code": {"coding": [{"system": LOINC, "code": code, "display": name}]},
             "valueQuantity": _quantity(getattr(encounter, field), "mmHg", "mm[Hg]")}
            for code, name, field in BP_PARTS if getattr(encounter, field) is not None]
    else:
        code, name, field, ucum, shown = VITALS[kind]
        codings = [{"system": LOINC, "code": code, "display": name}]
        if kind == "spo2":
            codings.append({"system": LOINC, "code": SPO2_ALSO[0], "display": SPO2_ALSO[1]})
        base["code"] = {"coding": codings, "text": name}
        base["valueQuantity"] = _quantity(getattr(encounter, field), shown, ucum)
    return validated(base)


LAB_INTERPRETATION = {"low": ("L", "Low"), "high": ("H", "High"), "normal": ("N", "Normal"),
                      "critical": ("AA", "Critical abnormal")}


def _limit(value: Decimal | None, unit: str | None) -> dict[str, Any] | None:
    return None if value is None else {"value": _decimal(value), "unit": unit}


def lab_observation(result: LabResult) -> dict[str, Any]:
    """A lab result; id ``lab-<result>``. Coded with the clinic's catalogue code and analyte (the
    catalogue records no LOINC code)."""
    order = result.lab_order
    value: dict[str, Any]
    if result.numeric_value is not None:
        value = {"valueQuantity": {"value": _decimal(result.numeric_value), "unit": result.unit}}
    else:
        value = {"valueString": result.value}
    interpretation = LAB_INTERPRETATION.get(result.flag or "")
    reference = {"low": _limit(result.ref_low, result.unit), "high": _limit(result.ref_high, result.unit),
                 "text": result.reference_range}
    return validated({
        "resourceType": "Observation", "id": f"lab-{result.id}",
        "status": LAB_STATUS.get(result.status, "unknown"),
        "category": _category("laboratory", "Laboratory"),
        "code": {"coding": [{"system": LAB_ANALYTE_SYSTEM, "code": f"{order.test_code}:{result.analyte}",
                             "display": result.analyte}], "text": result.analyte},
        "subject": ref("Patient", order.patient_id, order.patient.full_name),
        "encounter": {"reference": f"Encounter/{order.encounter_id}"} if order.encounter_id else None,
        "effectiveDateTime": _instant(result.resulted_at or result.created_at),
        "issued": _instant(result.released_at),
        **value,
        "interpretation": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": interpretation[0], "display": interpretation[1]}]}] if interpretation else [],
        "referenceRange": [reference] if any(reference.values()) else [],
        "note": [{"text": f"{order.test_code} {order.test_name}"}],
    })


# --- medicines and money ----------------------------------------------------------------------------

def medication_request_resource(item: PrescriptionItem) -> dict[str, Any]:
    prescription = item.prescription
    medicine = item.medicine
    return validated({
        "resourceType": "MedicationRequest", "id": str(item.id),
        "identifier": [{"system": "urn:clinic:prescription", "value": str(prescription.id)}],
        "status": PRESCRIPTION_STATUS.get(prescription.status, "unknown"), "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": MEDICINE_SYSTEM, "code": medicine.code,
                                                  "display": medicine.name}],
                                      "text": " ".join(filter(None, [medicine.name, medicine.strength]))},
        "subject": ref("Patient", prescription.patient_id, prescription.patient.full_name),
        "encounter": {"reference": f"Encounter/{prescription.encounter_id}"} if prescription.encounter_id else None,
        "authoredOn": _instant(prescription.issued_at or prescription.created_at),
        "requester": ref("Practitioner", prescription.doctor_id, prescription.doctor.full_name),
        "dosageInstruction": [{
            "text": " ".join(filter(None, [item.dose, item.frequency, item.instructions])),
            "route": {"text": item.route},
            "timing": {"repeat": {"frequency": item.times_per_day, "period": 1, "periodUnit": "d"}}
            if item.times_per_day else None,
        }],
        "dispenseRequest": {"quantity": {"value": item.quantity, "unit": medicine.unit},
                            "expectedSupplyDuration": {"value": item.duration_days, "unit": "days",
                                                       "system": UCUM, "code": "d"}},
    })


def invoice_resource(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency or "VND"

    def money(value: Decimal) -> dict[str, Any]:
        return {"value": _decimal(value), "currency": currency}

    return validated({
        "resourceType": "Invoice", "id": str(invoice.id),
        "identifier": [{"system": INVOICE_NUMBER_SYSTEM, "value": invoice.number}] if invoice.number else [],
        "status": INVOICE_STATUS.get(invoice.status, "draft"),
        "cancelledReason": invoice.void_reason,
        "subject": ref("Patient", invoice.patient_id, invoice.patient.full_name),
        "date": _instant(invoice.issued_at or invoice.created_at),
        "issuer": {"reference": f"Organization/{CLINIC_ORGANIZATION}"},
        "lineItem": [{"sequence": number, "chargeItemCodeableConcept": {"text": line.description},
                      "priceComponent": [{"type": "base", "amount": money(line.amount)}]}
                     for number, line in enumerate(invoice.lines, start=1)],
        "totalNet": money(invoice.subtotal - invoice.discount),
        "totalGross": money(invoice.total),
        "note": [{"text": invoice.notes}] if invoice.notes else [],
    })


MAPPERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    Patient: patient_resource, Doctor: practitioner_resource, Department: department_organization,
    Appointment: appointment_resource, Encounter: encounter_resource, Diagnosis: condition_resource,
    LabResult: lab_observation, PrescriptionItem: medication_request_resource, Invoice: invoice_resource,
}
