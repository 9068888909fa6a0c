"""The registry: the stations themselves, as organisers keep them.

What arrives is what unions type and send: forms, spreadsheets with their own headers,
coordinates in three datums and in degrees-minutes-seconds.  Each module has one job:

- ``records``: the station record, its vocabularies and field-by-field validation;
- ``coords``: coordinates as people type them;
- ``validation``: checks that need geography (in China, in the region, district, duplicates);
- ``edit``: create and edit one station with every check an import makes;
- ``history``: a station's history in words;
- ``readers`` and ``importer/``: station lists in (CSV, XLSX, GeoJSON), streamed within limits;
- ``exporter``: station lists out (GeoJSON, CSV, XLSX, GeoPackage);
- ``demo``: the synthetic, labelled demo dataset.

The package imports nothing on its own: import the module you need, so one room's
import never loads the others.
"""
