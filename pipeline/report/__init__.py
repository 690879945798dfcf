"""The LTV report: one self-contained HTML file built from the published marts snapshot.

`marts` opens a marts database and checks it has what the report reads, `queries` turns it into
numbers per currency, `charts` draws them with plotly, `page` lays out the HTML, `build` reads,
renders and writes the file, and `summary` gives the key numbers as markdown for Dagster.
Amounts of different currencies are never added: everything is per currency.
"""
