# Read-only timestamps have no help text of their own; their fieldset explains them.
RECORD_DESCRIPTION = "When this was created and last changed. “History” shows who changed what."
