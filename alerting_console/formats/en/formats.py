"""One time format on every page: ISO-like, to the second, with the zone (the console runs in
UTC). Django's English default ("Nov. 30, 2026, 1:02 a.m.") loses the seconds a timeline needs
and reads differently from the times the console writes itself (alerting_console/moments.py)."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i:s"
