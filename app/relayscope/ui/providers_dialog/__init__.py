"""The Providers settings dialog: add, edit, test and remove the upstreams in the config file.

``dialog`` builds the window (`ProvidersDialog`), ``form`` is what it does (`ProvidersForm`:
the list, the edit form, validation, Test and Save), ``drafts`` the providers being edited
and their field problems, ``check_job`` a Test run off the GUI thread, ``widgets`` small ones.
"""

from __future__ import annotations

from relayscope.ui.providers_dialog.check_job import SHOWN_MODELS as SHOWN_MODELS
from relayscope.ui.providers_dialog.dialog import ProvidersDialog as ProvidersDialog
from relayscope.ui.providers_dialog.drafts import field_problems as field_problems
