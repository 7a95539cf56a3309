"""The read-only HL7 FHIR R4 API's logic (``app.api.fhir`` is its thin entry point): the records
as resources (``mapping``), search parameters (``params``, ``search``), bundles and the
capability statement (``bundle``), errors as ``OperationOutcome`` (``errors``)."""
