"""RequestEditor: edit a request (from a recorded call, or typed) and send it through the proxy.

Postman's shape: quick controls and Send on top, the body in the middle (the conversation as
an editable list beside the JSON), the answer streaming in below. The JSON text is the truth;
the controls and the list are views of it, kept in sync both ways through `edit_body`.

``window`` is the form, ``sending`` the job that sends and the answer pane, ``json_editor``
and ``messages_editor`` the two views of the body.
"""

from __future__ import annotations

from relayscope.ui.request_editor.json_editor import JsonEditor, error_text
from relayscope.ui.request_editor.messages_editor import MessagesEditor
from relayscope.ui.request_editor.sending import RequestSender
from relayscope.ui.request_editor.window import RequestEditor, primary_button

__all__ = [
    "JsonEditor",
    "MessagesEditor",
    "RequestEditor",
    "RequestSender",
    "error_text",
    "primary_button",
]
