"""Riders: what a delivery rider, courier or sanitation worker asks of the registry.

- ``nearest``: the in-memory KD-tree behind "the nearest station";
- ``search``: the nearest stations open now with what the rider needs, and the station page;
- ``directory``: what the public may see of stations (filters, award filters, paging);
- ``feedback``: ratings and reports that keep the registry true;
- ``qr``: the QR code on a station's wall.

The package imports nothing on its own: import the module you need.
"""
