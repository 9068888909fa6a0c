"""Opening hours of service stations: parse, normalise, display and query.

Station opening hours arrive as free text typed by people ("周一至周五
8:00-20:00，周末 9:00-17:00", "24小时", "Mo-Fr 08:00-20:00; Sa off", with
full-width digits and every kind of dash, remarks like （法定节假日除外） and
seasonal hours).  :func:`parse_hours` reads such text, or raises
:class:`HoursError` naming the part it could not read.

- :mod:`.week` — :class:`OpeningHours`, a weekly schedule (its texts and queries);
- :mod:`.parser` — the tokenizer and grammar behind :func:`parse_hours`;
- :mod:`.calendar` — :class:`Timetable`, hours that follow China's calendar
  (工作日 as official working days with 调休, statutory holidays) or the season.
"""

from .calendar import BeyondCalendar, Timetable, calendar_years, china_day
from .parser import is_open_now, parse_hours
from .week import HoursError, OpeningHours

__all__ = ["BeyondCalendar", "HoursError", "OpeningHours", "Timetable", "calendar_years",
           "china_day", "is_open_now", "parse_hours"]
