"""Search filters of the generated screens (they live with the FAB glue in ``app.fab.filters``)."""
from app.fab.filters import ClinicFilterConverter, FilterFoldedContains

__all__ = ["ClinicFilterConverter", "FilterFoldedContains"]
