"""The Flask-AppBuilder glue, in one place: everything that adapts FAB 5.3 to the clinic or works
around one of its bugs. Screens (``app.views``) and the REST API (``app.api``) both build on it;
neither imports the other.

- ``actor``: who is acting in this request (one answer for pages, API calls and the audit trail);
- ``interface``: the data interface (database refusals as domain errors, ids out of range, and the
  one check of every list query's filters, order and page);
- ``filters``: search filters (accent-folded text, times);
- ``hooks``: the validation hooks every generated create/edit/delete calls;
- ``api``: REST pieces (related ids that must exist, ranges in the schemas, domain errors out of
  FAB's ``@safe``);
- ``views``: the generated screens' save/delete flow and related lists;
- ``input``: the request-level checks of FAB's list arguments, rison ``q``, ids in URLs and the
  login payload;
- ``rison``: FAB's rison schemas checked once per process instead of on every request;
- ``security_views``: FAB's users, roles and groups screens without the ``download`` route
  (it reads an ``UPLOAD_FOLDER`` setting this app has no use for, and answered 500);
- ``login``: the login form's ``next=`` checked by ``app.redirects.safe_next`` (FAB's own check
  lets backslash targets through);
- ``passwords``: FAB's password screens ("Reset my password", an admin's "Reset password", the
  add-user form) with the clinic's password rule, the current password asked for a change, and
  the user's sessions ended (FAB checks nothing and ends nothing);
- ``denials``: every permission refusal of a request recorded in the audit trail (FAB's decorators
  have no hook; they log each refusal at one place, which a logging handler picks up).

Each workaround says which FAB behaviour it works around; ``tests/test_fab_workarounds.py``
shows each behaviour still exists in plain FAB, so the workaround can go the day it does not.
"""
