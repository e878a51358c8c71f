"""Results at a glance: the results table, statistics, plots and the HTML reports."""
